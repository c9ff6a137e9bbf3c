"""The plan's monthly cost estimate: the overview's cost table (~$2,022), its lines explained, prices and overrides."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "plugins" / "filter"))

import cost  # noqa: E402

PRICES_DIR = ROOT / "roles" / "plan" / "files" / "prices"
US_EAST_1 = yaml.safe_load((PRICES_DIR / "us-east-1.yml").read_text())


def defaults(role):
    return yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text())


def settings(**changes):
    """plan_cost_settings as roles/plan/vars/main.yml builds it from the roles' defaults (the default inventory)."""
    vpc, eks, nodegroups, storage, apps, plan = (defaults(r) for r in ("vpc", "eks", "nodegroups", "storage", "apps",
                                                                          "plan"))
    base = {key: copy.deepcopy(value) for key, value in plan.items()
            if key not in ("plan_region", "plan_prices", "plan_prices_file", "plan_artifacts_dir")}
    base.update({
        "plan_region": "us-east-1",
        "vpc_azs": ["us-east-1a", "us-east-1b", "us-east-1c"],
        "vpc_single_nat_gateway": vpc["vpc_single_nat_gateway"],
        "vpc_endpoints": vpc["vpc_endpoints"],
        "vpc_flow_logs_enabled": vpc["vpc_flow_logs_enabled"],
        "vpc_flow_logs_retention_days": vpc["vpc_flow_logs_retention_days"],
        "eks_log_types": eks["eks_log_types"],
        "eks_log_retention_days": eks["eks_log_retention_days"],
        "nodegroups_definitions": copy.deepcopy(nodegroups["nodegroups_definitions"]),
        "storage_classes": storage["storage_classes"],
        "storage_default_class": storage["storage_default_class"],
        "apps_example_app": copy.deepcopy(apps["apps_example_app"]),
    })
    base.update(changes)
    return base


def estimate(prices=None, overrides=None, **changes):
    return cost.plan_cost_estimate(settings(**changes), US_EAST_1 if prices is None else prices, overrides or {})


def cents(value):
    """A monthly figure as the estimate rounds it (to the cent)."""
    return pytest.approx(value, abs=0.0051)


def lines(result):
    return {line["key"]: line for line in result["lines"]}


def compared(result):
    return {line["key"]: line for line in result["overview"]["lines"]}


def within(value, target, tolerance=0.05):
    return abs(value - target) <= tolerance * target


# --- the default inventory against the overview's table -------------------------------------------------------
def test_default_inventory_lines_at_public_us_east_1_prices():
    result = estimate()
    got = lines(result)
    assert result["region"] == "us-east-1" and result["hours_per_month"] == 730
    assert got["eks_control_plane"]["monthly"] == cents(0.10 * 730)                 # 73.00
    assert got["nat_gateways"]["monthly"] == cents(3 * 0.045 * 730)                 # 98.55
    assert got["nodes_system"]["monthly"] == cents(3 * 0.192 * 730)                 # 420.48
    assert got["nodes_application"]["monthly"] == cents(5 * 0.384 * 730 * 0.30)     # 420.48
    assert got["nodes_database"]["monthly"] == cents(4 * 0.504 * 730)               # 1,471.68
    assert got["data_transfer"]["monthly"] == 100
    assert [line["key"] for line in result["lines"][:6]] == [key for key, *_ in cost.OVERVIEW_TABLE]
    assert got["nodes_application"]["configuration"] == "5x m5.2xlarge (SPOT)"
    assert got["nodes_database"]["configuration"] == "4x r5.2xlarge (ON_DEMAND)"
    # what the overview leaves out
    assert got["nat_data"]["monthly"] == cents(500 * 0.045)
    assert got["public_ipv4"]["monthly"] == cents((3 + 3) * 0.005 * 730)
    assert got["ebs_root_volumes"]["monthly"] == cents((3 * 100 + 5 * 200 + 4 * 500) * 0.08)   # 264.00
    assert got["ebs_claims"]["monthly"] == cents(10 * 0.08)   # the example cache's 10Gi gp3 claim
    assert got["vpc_endpoints"]["monthly"] == cents(7 * 3 * 0.01 * 730)                          # 153.30
    assert got["load_balancers"]["monthly"] == cents((0.0225 + 0.008) * 730)
    assert got["cloudwatch_logs"]["monthly"] == cents(50 * 0.5 + 50 * 0.03 + 25 * 0.5 + 25 * 14 / 30 * 0.03)
    assert result["total"] == cents(sum(line["monthly"] for line in result["lines"]))
    assert result["total"] == pytest.approx(3108.31, abs=0.01)


def test_overview_comparison_of_the_default_inventory_explains_every_difference():
    """EKS, NAT hours and data transfer are the overview's figures within 5 %; the node lines are not, because no
    public on-demand price gives the overview's figures: each explanation names the rate the overview implies."""
    result = estimate()
    table = compared(result)
    for key in ("eks_control_plane", "nat_gateways", "data_transfer"):
        assert table[key]["within_tolerance"], table[key]
    assert "720 hours" in table["eks_control_plane"]["explanation"]
    system, application, database = table["nodes_system"], table["nodes_application"], table["nodes_database"]
    assert not system["within_tolerance"] and system["difference_pct"] == cents(12.4)
    assert "$0.1708/h for m5.xlarge" in system["explanation"] and "$0.192/h" in system["explanation"]
    assert "$0.4003/h for r5.2xlarge" in database["explanation"] and database["difference_pct"] == cents(25.9)
    assert "77.9% spot discount" in application["explanation"] and "~70%" in application["explanation"]
    overview = result["overview"]
    # The overview's table: its lines add up to $2,122; its stated "~$2,022" leaves out its own $100 data transfer.
    assert overview["overview_lines_sum"] == 2122 == sum(figure for *_, figure in cost.OVERVIEW_TABLE)
    assert overview["overview_total"] == 2022 == 2122 - 100
    assert "without its own $100 of data transfer" in overview["total_note"]
    assert overview["subtotal"] == pytest.approx(2584.19, abs=0.01)
    assert overview["subtotal_difference_pct"] == cents(21.8)        # against the $2,122 its lines add up to
    assert overview["subtotal_without_data_transfer"] == pytest.approx(2484.19, abs=0.01)
    assert overview["stated_total_difference_pct"] == cents(22.9)    # against the stated $2,022
    assert not overview["subtotal_within_tolerance"] and not overview["stated_total_within_tolerance"]
    extra = {line["key"]: line for line in overview["extra_lines"]}
    assert set(extra) == {"nat_data", "public_ipv4", "ebs_root_volumes", "ebs_claims", "vpc_endpoints",
                          "load_balancers", "cloudwatch_logs"}
    assert all(line["explanation"] for line in extra.values())
    assert overview["subtotal"] + sum(line["monthly"] for line in extra.values()) == cents(result["total"])


def test_at_the_overview_implied_rates_every_line_and_the_subtotal_come_within_5_percent_of_2022():
    """Same counts, sizes and arithmetic as the overview: given the unit prices its table implies (the node
    rates, a 77.9 % spot discount), every one of its six lines and its $2,022 come out within 5 %: the differences
    of the default estimate are the unit prices alone."""
    result = estimate(overrides={"instance_hour": {"m5.xlarge": 0.1708, "r5.2xlarge": 0.4003}},
                      plan_hours_per_month=730, plan_spot_discount=0.779)
    for line in result["overview"]["lines"]:
        assert line["within_tolerance"], line
        assert within(line["estimate"], line["overview"]), line
    overview = result["overview"]
    assert within(overview["subtotal_without_data_transfer"], 2022) and overview["stated_total_within_tolerance"]
    assert within(overview["subtotal"], 2122) and overview["subtotal_within_tolerance"]


# --- spot, overrides, NAT modes -------------------------------------------------------------------------------
@pytest.mark.parametrize("discount", [0.0, 0.5, 0.70, 0.9])
def test_spot_discount_applies_to_spot_groups_only(discount):
    got = lines(estimate(plan_spot_discount=discount))
    assert got["nodes_application"]["monthly"] == pytest.approx(5 * 0.384 * 730 * (1 - discount), abs=0.01)
    assert got["nodes_system"]["monthly"] == cents(3 * 0.192 * 730)
    assert f"{discount:g} spot discount" in got["nodes_application"]["formula"]


def test_spot_discount_out_of_range_names_the_variable():
    with pytest.raises(AnsibleFilterError, match="plan_spot_discount"):
        estimate(plan_spot_discount=1.5)


def test_overrides_of_prices_win_over_the_file():
    result = estimate(overrides={"nat_gateway_hour": 0.05, "ebs_gp3_gb_month": {"price": 0.1},
                                 "instance_hour": {"m5.xlarge": 0.1}})
    got = lines(result)
    assert got["nat_gateways"]["monthly"] == cents(3 * 0.05 * 730)
    assert got["nodes_system"]["monthly"] == cents(3 * 0.1 * 730)
    assert got["nodes_database"]["monthly"] == cents(4 * 0.504 * 730)   # the file's, not overridden
    assert got["ebs_root_volumes"]["monthly"] == cents(3300 * 0.1)
    assert result["prices"]["overridden"] == ["ebs_gp3_gb_month", "instance_hour", "nat_gateway_hour"]
    assert US_EAST_1["prices"]["nat_gateway_hour"]["price"] == 0.045   # the loaded table is not modified


def test_an_unknown_price_name_in_plan_prices_fails_naming_it():
    with pytest.raises(AnsibleFilterError, match=r"plan_prices.nat_gateway_hours: unknown price"):
        estimate(overrides={"nat_gateway_hours": 0.05})


def test_single_nat_gateway():
    got = lines(estimate(vpc_single_nat_gateway=True))
    assert got["nat_gateways"]["monthly"] == cents(0.045 * 730)
    assert got["nat_gateways"]["configuration"].startswith("1 ")
    assert got["public_ipv4"]["configuration"].startswith("4 ")   # 1 EIP + 3 ALB nodes


def test_two_azs_change_nat_endpoints_and_addresses():
    got = lines(estimate(vpc_azs=["us-east-1a", "us-east-1b"]))
    assert got["nat_gateways"]["monthly"] == cents(2 * 0.045 * 730)
    assert got["vpc_endpoints"]["monthly"] == cents(7 * 2 * 0.01 * 730)


def test_load_balancers_from_the_apps_role_or_the_variable():
    app = copy.deepcopy(defaults("apps")["apps_example_app"])
    app["ingress"]["enabled"] = False
    assert lines(estimate(apps_example_app=app))["load_balancers"]["monthly"] == 0
    assert lines(estimate(plan_load_balancers=3))["load_balancers"]["monthly"] == cents(3 * 0.0305 * 730)


# --- failures naming the variable -----------------------------------------------------------------------------
def test_unknown_instance_type_fails_naming_the_definition_and_plan_prices():
    definitions = copy.deepcopy(defaults("nodegroups")["nodegroups_definitions"])
    definitions[2]["instance_types"] = ["x9.huge"]
    with pytest.raises(AnsibleFilterError) as error:
        estimate(nodegroups_definitions=definitions)
    message = str(error.value)
    assert message.startswith("nodegroups_definitions[2].instance_types: "
                              "no on-demand price for instance type 'x9.huge'")
    assert "plan_prices.instance_hour['x9.huge']" in message and "roles/plan/files/prices/us-east-1.yml" in message
    priced = lines(estimate(nodegroups_definitions=definitions, overrides={"instance_hour": {"x9.huge": 2.0}}))
    assert priced["nodes_database"]["monthly"] == cents(4 * 2.0 * 730)


def test_a_region_without_a_price_file_fails_naming_plan_prices_and_the_file():
    with pytest.raises(AnsibleFilterError) as error:
        cost.plan_cost_estimate(settings(plan_region="ap-south-2"), {}, {},
                                prices_file="/x/roles/plan/files/prices/ap-south-2.yml")
    message = str(error.value)
    assert message.startswith("plan_prices: no prices for region 'ap-south-2'")
    assert "/x/roles/plan/files/prices/ap-south-2.yml does not exist" in message and "plan_prices_file" in message


def test_a_price_file_of_another_region_is_refused():
    with pytest.raises(AnsibleFilterError, match=r"plan_prices_file: holds the prices of 'us-east-1'"):
        cost.plan_cost_estimate(settings(plan_region="eu-west-1"), US_EAST_1, {})


def test_a_price_missing_from_the_file_names_plan_prices_and_the_file():
    table = copy.deepcopy(US_EAST_1)
    del table["prices"]["alb_hour"]
    with pytest.raises(AnsibleFilterError,
                       match=r"no price 'alb_hour' for region 'us-east-1': set plan_prices.alb_hour"):
        estimate(prices=table)


def test_a_claim_on_an_unknown_class_names_it():
    app = copy.deepcopy(defaults("apps")["apps_example_app"])
    app["cache"]["storage_class"] = "fast"
    with pytest.raises(AnsibleFilterError, match=r"apps_example_app.cache.storage_class: 'fast' is not one of"):
        estimate(apps_example_app=app)


def test_plan_volumes_with_an_unknown_key_names_it():
    with pytest.raises(AnsibleFilterError, match=r"plan_volumes\[0\].sise: unknown key 'sise'; did you mean 'size'\?"):
        estimate(plan_volumes=[{"name": "pg", "type": "gp3", "sise": "100Gi"}])


# --- EBS performance above the gp3 baseline, io2 tiers, quantities --------------------------------------------
def test_gp3_iops_and_throughput_above_the_baseline_are_billed():
    definitions = copy.deepcopy(defaults("nodegroups")["nodegroups_definitions"])
    definitions[2]["disk"] = {"size_gb": 500, "type": "gp3", "iops": 6000, "throughput": 250}
    got = lines(estimate(nodegroups_definitions=definitions))
    per_volume = 500 * 0.08 + (6000 - 3000) * 0.005 + (250 - 125) * 0.04   # 40 + 15 + 5
    assert got["ebs_root_volumes"]["monthly"] == cents(300 * 0.08 + 1000 * 0.08 + 4 * per_volume)
    assert "3000 IOPS above 3000 x $0.005/IOPS-month" in got["ebs_root_volumes"]["formula"]
    assert "125 MiB/s above 125 x $0.04/MiB/s-month" in got["ebs_root_volumes"]["formula"]


def test_gp3_at_the_baseline_bills_storage_only():
    got = lines(estimate())
    assert "IOPS" not in got["ebs_root_volumes"]["formula"]


def test_io2_claims_bill_storage_and_tiered_iops():
    result = estimate(plan_volumes=[{"name": "postgres", "storage_class": "io2", "size": "1Ti", "count": 2},
                                    {"name": "tsdb", "type": "io2", "size_gb": 100, "iops": 40000}])
    claims = lines(result)["ebs_claims"]
    io2_class = 1024 * 0.125 + 10000 * 0.065                       # storage class io2: 10000 IOPS
    big = 100 * 0.125 + 32000 * 0.065 + 8000 * 0.0455              # second tier above 32,000 IOPS
    assert claims["monthly"] == cents(10 * 0.08 + 2 * io2_class + big)
    assert claims["configuration"] == f"{10 + 2048 + 100:g} GB in 3 claim(s)"


def test_claim_sizes_in_kubernetes_quantities():
    assert cost._gib("x", "10Gi") == 10
    assert cost._gib("x", "1Ti") == 1024
    assert cost._gib("x", "512Mi") == 0.5
    assert cost._gib("x", 20) == 20
    assert cost._gib("x", "100G") == pytest.approx(93.13, abs=0.01)
    with pytest.raises(AnsibleFilterError, match="x: 'ten' is not a size"):
        cost._gib("x", "ten")


def test_logs_follow_the_log_types_and_flow_logs_switches():
    got = lines(estimate(eks_log_types=[], vpc_flow_logs_enabled=False))
    assert got["cloudwatch_logs"]["monthly"] == 0
    with pytest.raises(AnsibleFilterError, match=r"plan_log_gb_per_month.eks: unknown key 'eks'; valid keys are"):
        estimate(plan_log_gb_per_month={"eks": 10})


# --- price files ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", sorted(PRICES_DIR.glob("*.yml")), ids=lambda p: p.stem)
def test_price_files_date_and_source_every_figure(path):
    table = yaml.safe_load(path.read_text())
    assert table["region"] == path.stem and table["currency"] == "USD" and table["as_of"]
    prices = table["prices"]
    assert set(prices) == set(cost.PRICE_KEYS) | {"instance_hour"}
    figures = [entry for key, entry in prices.items() if key != "instance_hour"]
    figures += list(prices["instance_hour"].values())
    for entry in figures:
        assert entry["unit"] and entry["as_of"], entry
        assert entry["source"].startswith("https://aws.amazon.com/") and entry["source"].endswith("/pricing/") \
            or entry["source"] == "https://aws.amazon.com/ec2/pricing/on-demand/", entry
        assert ("price" in entry) != ("tiers" in entry), entry
    for group in defaults("nodegroups")["nodegroups_definitions"]:
        for instance_type in group["instance_types"]:
            assert instance_type in prices["instance_hour"], (path.stem, instance_type)


def test_eu_west_1_estimate():
    table = yaml.safe_load((PRICES_DIR / "eu-west-1.yml").read_text())
    result = cost.plan_cost_estimate(settings(plan_region="eu-west-1",
                                              vpc_azs=["eu-west-1a", "eu-west-1b", "eu-west-1c"]), table, {})
    got = lines(result)
    assert got["nat_gateways"]["monthly"] == cents(3 * 0.048 * 730)
    assert got["nodes_database"]["monthly"] == cents(4 * 0.564 * 730)
    assert result["total"] > estimate()["total"]


# --- Markdown -------------------------------------------------------------------------------------------------
def test_markdown_table():
    result = estimate()
    text = cost.plan_cost_markdown(result)
    assert text.startswith("## Estimated monthly cost (us-east-1, USD, 730 h/month)")
    assert "| Component | Configuration | Monthly cost | How |" in text
    assert "| Database Nodes | 4x r5.2xlarge (ON_DEMAND) | $1,471.68 |" in text
    assert "| **Total** | | **$3,108.31** | |" in text
    assert "| **Overview's six lines** | **$2,122** | **$2,584.19** | **+21.8%** |" in text
    assert "| **Overview's stated total** | **~$2,022** | **$2,484.19** | **+22.9%** |" in text
    assert "Prices: roles/plan/files/prices/us-east-1.yml (as of 2026-12-02)." in text
    data_rows = [row for row in text.splitlines() if row.startswith("| ") and not row.startswith("| **")]
    assert all(row.count(" | ") >= 3 for row in data_rows)


def test_markdown_escapes_pipes_and_names_the_overrides():
    result = estimate(overrides={"alb_hour": 0.03})
    result["lines"][0]["configuration"] = "a|b"
    text = cost.plan_cost_markdown(result, title="Cost of hub")
    assert text.startswith("## Cost of hub (")
    assert "a\\|b" in text
    assert "overridden by plan_prices: alb_hour" in text


def test_markdown_refuses_something_else():
    with pytest.raises(AnsibleFilterError, match="plan_cost_estimate"):
        cost.plan_cost_markdown({"total": 1})
