# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Runs llmhub.eks.ec2_internet_gateway in the turbo worker when the controller can (plugins/plugin_utils/turbo_action.py)."""

from __future__ import annotations

from ansible_collections.llmhub.eks.plugins.plugin_utils.turbo_action import ActionModule

__all__ = ["ActionModule"]
