"""Model parts MMAction2 lacks, and pretrained-weight loading."""

from thermal_action.models.pretrained import PretrainedReport, load_pretrained, read_state_dict

__all__ = ["PretrainedReport", "load_pretrained", "read_state_dict"]
