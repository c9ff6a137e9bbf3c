"""EC2 Regions and instance type offerings as a real account sees them.

* ``DescribeInstanceTypeOfferings`` pages with ``MaxResults`` (5-1000) and
  ``NextToken`` as EC2 does (moto answered everything at once), and by
  ``availability-zone``/``availability-zone-id`` leaves out the types the
  ``unoffered_instance_types`` test control names for a zone (an AZ without
  ``r5.2xlarge`` is common on AWS).
* ``DescribeRegions`` lists Regions the account has not enabled (the
  ``disabled_regions`` test control, and moto's ``not-opted-in`` ones) only
  with ``AllRegions``, reporting ``OptInStatus: not-opted-in``, as EC2 does.
"""

from __future__ import annotations

from typing import Any

from .test_controls import CONTROLS


def install() -> None:
    from moto.core.responses import ActionResult
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models.availability_zones_and_regions import Region
    from moto.ec2.responses.availability_zones_and_regions import AvailabilityZonesAndRegions
    from moto.ec2.responses.instances import InstanceResponse

    if getattr(InstanceResponse, "_emulator_offerings", False):
        return
    InstanceResponse._emulator_offerings = True

    def describe_instance_type_offerings(self: Any) -> Any:
        location_type = self._get_param("LocationType") or "region"
        offerings = self.ec2_backend.describe_instance_type_offerings(location_type, self._filters_from_querystring())
        if location_type in ("availability-zone", "availability-zone-id"):
            zone_names = {z.zone_id: z.name for z in self.ec2_backend.describe_availability_zones()}
            offerings = [o for o in offerings
                         if o["InstanceType"] not in CONTROLS.unoffered(zone_names.get(o["Location"], o["Location"]))]
        max_results = self._get_int_param("MaxResults")
        if max_results is not None and not 5 <= max_results <= 1000:
            raise EC2ClientError("InvalidParameterValue", f"Value ( {max_results} ) for parameter maxResults is invalid. "
                                 "Parameter must be between 5 and 1000.")
        try:
            start = int(self._get_param("NextToken") or 0)
        except ValueError:
            raise EC2ClientError("InvalidNextToken", "The specified token is invalid.") from None
        end = start + (max_results or 1000)
        result: dict[str, Any] = {"InstanceTypeOfferings": offerings[start:end]}
        if end < len(offerings):
            result["NextToken"] = str(end)
        return ActionResult(result)

    InstanceResponse.describe_instance_type_offerings = describe_instance_type_offerings

    def describe_regions(self: Any) -> Any:
        self.error_on_dryrun()
        all_regions = str(self._get_param("AllRegions")).lower() == "true"
        regions = []
        for region in self.ec2_backend.describe_regions(self._get_param("RegionNames", [])):
            if CONTROLS.region_disabled(region.name):
                region = Region(region.name, region.endpoint, "not-opted-in")
            if region.opt_in_status == "not-opted-in" and not all_regions:
                continue
            regions.append(region)
        return ActionResult({"Regions": regions})

    AvailabilityZonesAndRegions.describe_regions = describe_regions
