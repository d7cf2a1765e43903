"""Find and follow people in recordings without annotations: person detectors behind one
interface (``detections``), and the tracker that links their boxes over time."""

from thermal_action.tracking.blob import BlobDetector
from thermal_action.tracking.detections import Detections, Detector, detect_frames

__all__ = ["BlobDetector", "Detections", "Detector", "detect_frames"]
