"""Find and follow people in recordings without annotations: person detectors behind one
interface (``detections``), and the tracker that links their boxes over time."""

from thermal_action.tracking.blob import BlobDetector
from thermal_action.tracking.detections import Detections, Detector, build_detector, detect_frames
from thermal_action.tracking.tracker import Tracker, TrackPoint

__all__ = ["BlobDetector", "Detections", "Detector", "TrackPoint", "Tracker", "build_detector",
           "detect_frames"]
