"""MP4 encoding and decoding with PyAV, for dtype "video" features of LeRobot v3 datasets."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from spatial_forcing.utils.errors import SFError


class VideoEncoder:
    """Append uint8 [H, W, 3] frames to one MP4 file at a constant frame rate.

    LeRobot v3 puts many episodes in one file; `num_frames / fps` is the timestamp the next frame gets,
    which is what an episode's `from_timestamp` records.
    """

    def __init__(self, path: str | Path, fps: int, height: int, width: int, codec: str = "libx264",
                 crf: int = 18) -> None:
        import av

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fps = int(fps)
        self.num_frames = 0
        self._container = av.open(str(self.path), mode="w")
        self._stream = self._container.add_stream(codec, rate=self.fps)
        self._stream.width, self._stream.height = int(width), int(height)
        self._stream.pix_fmt = "yuv420p"
        self._stream.time_base = Fraction(1, self.fps)
        self._stream.options = {"crf": str(crf), "g": "2"} if codec == "libx264" else {"g": "2"}
        self.codec = codec

    def add(self, frame: np.ndarray) -> None:
        """Encode one RGB frame."""
        import av

        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        vf.pts = self.num_frames
        for packet in self._stream.encode(vf):
            self._container.mux(packet)
        self.num_frames += 1

    def close(self) -> None:
        """Flush the encoder and close the file."""
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()


def decode_video(path: str | Path, fps: int) -> np.ndarray:
    """All frames of an MP4 as uint8 [F, H, W, 3], placed at index round(pts_seconds * fps).

    Raises SFError naming the file if it is missing or cannot be decoded.
    """
    import av

    path = Path(path)
    if not path.is_file():
        raise SFError(f"missing video file {path}")
    frames: dict[int, np.ndarray] = {}
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            start = stream.start_time or 0
            for frame in container.decode(stream):
                pts = frame.pts if frame.pts is not None else len(frames)
                seconds = float((pts - start) * stream.time_base)
                frames[int(round(seconds * fps))] = frame.to_ndarray(format="rgb24")
    except (av.error.FFmpegError, IndexError) as err:
        raise SFError(f"cannot decode video {path}: {err}") from None
    if not frames:
        raise SFError(f"video {path} has no frames")
    last = max(frames)
    out = np.zeros((last + 1, *next(iter(frames.values())).shape), dtype=np.uint8)
    for i in range(last + 1):  # a missing slot (dropped frame) repeats the previous frame
        out[i] = frames[i] if i in frames else out[max(i - 1, 0)]
    return out
