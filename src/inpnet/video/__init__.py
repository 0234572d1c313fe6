"""Video inpainting: optical flow (OpenCV DIS), propagation of real pixels from the frames that show
them, the image model for what no frame shows; streamed through PyAV in a sliding window.

    from inpnet.video import inpaint_video_file, inpaint_frames
"""

from inpnet.video.files import inpaint_video_file, model_filler
from inpnet.video.pipeline import VideoInpainter, VideoOptions, inpaint_frames

__all__ = ["VideoInpainter", "VideoOptions", "inpaint_frames", "inpaint_video_file", "model_filler"]
