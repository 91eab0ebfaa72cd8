"""SAM 2's own video predictor as a whole VOS method (``sam2_video``), a competitor of SAM-PT in ``sampt bench``.

Each object's first mask goes to ``SAM2VideoPredictor.add_new_mask`` on its frame, then
``propagate_in_video`` carries every object through the clip; its logits at the video's resolution are kept
per frame and object. Frames reach the predictor in memory: the package's ``init_state`` reads a JPEG
folder or an MP4 file, so for this one call its frame loader is replaced by one that prepares sampt's
frames exactly as the package prepares a decoded JPEG (PIL resize to the model's square input, /255,
ImageNet mean/std), without a lossy round trip through files.

Timings: ``encoding`` is the image encoder (``forward_image``); ``tracking`` everything else of the
propagation (memory attention, mask decoding, memory encoding), as SAM 2 does not split them further.
"""
from __future__ import annotations

import contextlib
import logging
import time
from typing import Any, Iterator, Optional, Sequence

import numpy as np
import torch

from sampt.devices import pick_device
from sampt.methods import MethodResult, VOSMethod
from sampt.pipeline.store import MaskStore
from sampt.types import Video

from sampt_sam2.builders import build_video_predictor, load_weights, model_device, variant_of

log = logging.getLogger(__name__)

IMG_MEAN = (0.485, 0.456, 0.406)
IMG_STD = (0.229, 0.224, 0.225)


def frames_tensor(video: Video, image_size: int) -> torch.Tensor:
    """``(T, 3, S, S)`` float32 frames prepared as ``sam2.utils.misc`` prepares JPEG frames."""
    from PIL import Image

    out = torch.empty(len(video), 3, image_size, image_size, dtype=torch.float32)
    for t, frame in enumerate(video):
        resized = np.asarray(Image.fromarray(frame).resize((image_size, image_size)), dtype=np.float64) / 255.0
        out[t] = torch.from_numpy(resized).permute(2, 0, 1)
    mean = torch.tensor(IMG_MEAN, dtype=torch.float32)[:, None, None]
    std = torch.tensor(IMG_STD, dtype=torch.float32)[:, None, None]
    return (out - mean) / std


@contextlib.contextmanager
def _in_memory_frames(images: torch.Tensor, height: int, width: int) -> Iterator[None]:
    """Make the predictor's ``init_state`` take ``images`` instead of reading a path (restored on exit)."""
    import sam2.sam2_video_predictor as svp

    original = svp.load_video_frames

    def load(video_path: Any, image_size: int, offload_video_to_cpu: bool, compute_device: Any = None,
             **_: Any) -> tuple[torch.Tensor, int, int]:
        if images.shape[-1] != image_size:
            raise ValueError(f"frames prepared at {images.shape[-1]} px, the model needs {image_size}")
        return (images if offload_video_to_cpu else images.to(compute_device)), height, width

    svp.load_video_frames = load
    try:
        yield
    finally:
        svp.load_video_frames = original


class _EncoderTimer:
    """Accumulates the seconds spent in a module's ``forward_image`` (the image encoder) and counts calls."""

    def __init__(self, predictor: Any):
        self.seconds = 0.0
        self.calls = 0
        self._predictor = predictor
        self._original = predictor.forward_image

    def __enter__(self) -> "_EncoderTimer":
        def timed(img_batch: torch.Tensor) -> Any:
            start = time.perf_counter()
            try:
                return self._original(img_batch)
            finally:
                self.seconds += time.perf_counter() - start
                self.calls += int(img_batch.shape[0])

        self._predictor.forward_image = timed
        return self

    def __exit__(self, *exc: Any) -> None:
        del self._predictor.forward_image  # back to the class's method


class Sam2VideoMethod(VOSMethod):
    """SAM 2's video predictor as a sampt method.

    Options: ``model`` a SAM 2 model name (``sam2.1_hiera_tiny``... as the segmenters); ``checkpoint`` a file
    path or registered name (default: the model's official checkpoint); ``device`` ``"auto"`` or a torch
    device; ``offload_state_to_cpu`` the predictor's own option (keeps its memory bank in host memory);
    ``postprocessing`` ``build_sam2_video_predictor``'s ``apply_postprocessing`` (on there too); ``seed``
    kept for the bench (the predictor itself makes no random choice).
    """

    def __init__(self, model: str = "sam2.1_hiera_tiny", checkpoint: Optional[str] = None, device: str = "auto",
                 offload_state_to_cpu: bool = False, postprocessing: bool = True, seed: int = 0):
        v = variant_of(model)
        predictor = build_video_predictor(v, "cpu", postprocessing=bool(postprocessing))
        path = load_weights(predictor, v, checkpoint)
        log.info("sam2_video (%s): loaded %s", v.name, path)
        self._setup(v.name, predictor.to(pick_device(device)), offload_state_to_cpu, seed)

    @classmethod
    def from_predictor(cls, predictor: Any, model: str, offload_state_to_cpu: bool = False,
                       seed: int = 0) -> "Sam2VideoMethod":
        """Wrap an already built and loaded ``SAM2VideoPredictor``."""
        self = cls.__new__(cls)
        self._setup(variant_of(model).name, predictor, offload_state_to_cpu, seed)
        return self

    def _setup(self, model: str, predictor: Any, offload_state_to_cpu: bool, seed: int) -> None:
        self.model_name = model
        self.predictor = predictor.eval()
        self.device = model_device(predictor)
        self.offload_state_to_cpu = bool(offload_state_to_cpu)
        self.seed = int(seed)

    @torch.inference_mode()
    def run(self, video: Video, prompts: Sequence[Any], progress: bool = False) -> MethodResult:
        if not prompts:
            raise ValueError("sam2_video needs at least one object prompt")
        for p in prompts:
            if getattr(p, "mask", None) is None:
                raise ValueError(f"sam2_video takes object masks (object {p.object_id} has none); "
                                 "give each object a mask on its first frame")
            if tuple(p.mask.shape) != video.size:
                raise ValueError(f"object {p.object_id}'s mask is {p.mask.shape[1]}x{p.mask.shape[0]}, "
                                 f"the video is {video.width}x{video.height}")
            if not 0 <= int(p.frame) < len(video):
                raise ValueError(f"object {p.object_id}'s frame {p.frame} is outside the {len(video)}-frame video")
        start = time.perf_counter()
        ids = [int(p.object_id) for p in prompts]
        store = MaskStore(len(video), len(ids), video.size)
        images = frames_tensor(video, int(self.predictor.image_size))
        with _EncoderTimer(self.predictor) as enc:
            with _in_memory_frames(images, video.height, video.width):
                state = self.predictor.init_state("<sampt in-memory video>", offload_video_to_cpu=True,
                                                  offload_state_to_cpu=self.offload_state_to_cpu)
            for p in prompts:
                self.predictor.add_new_mask(state, frame_idx=int(p.frame), obj_id=int(p.object_id),
                                            mask=np.asarray(p.mask, bool))
            frames = self.predictor.propagate_in_video(state)
            if progress:
                from tqdm import tqdm

                frames = tqdm(frames, total=len(video), desc="sam2_video", unit="frame")
            for t, obj_ids, logits in frames:
                out = logits[:, 0].float().cpu().numpy()
                for k, oid in enumerate(obj_ids):
                    store.set(int(t), ids.index(int(oid)), out[k])
        total = time.perf_counter() - start
        timings = {"encoding": enc.seconds, "tracking": total - enc.seconds, "decoding": 0.0, "other": 0.0}
        return MethodResult(ids, store, timings, encoder_calls=enc.calls)
