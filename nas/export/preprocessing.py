"""What an exported network expects of its input, written into its model.py as the `Classifier` base class.

The generated `Network` subclasses `Classifier`, which carries the input size, the training data's per-channel
mean and std and the class names, and turns raw images (uint8 arrays, PIL images or file paths) into the
network's input exactly as training decoded them (`nas.train.data.to_rgb_array`: transparency over white, RGB,
squashed to size x size, bilinear; JPEG files opened with the same reduced-scale draft). `predict(images)`
returns the predicted class names and the class probabilities. The code imports only torch, and PIL only when
an image is not already a size x size x 3 uint8 array.
"""

from __future__ import annotations

import json
from typing import Any

from nas.train.data_spec import cifar10_spec

_CLASSIFIER = '''
class Classifier(nn.Module):
    """What the network was trained on, and `predict` for raw images."""

    INPUT_SIZE = {size}  # images are {size}x{size} RGB
    MEAN = {mean}  # per channel, in [0, 1]: the training images'
    STD = {std}
    CLASS_NAMES = {class_names}

    def preprocess(self, images) -> torch.Tensor:
        """The normalised (N, 3, S, S) float batch for raw images, as in training:
        uint8 arrays (H, W), (H, W, 3) or (H, W, 4), PIL images, or file paths.
        Transparency is laid over white, grayscale becomes RGB, other sizes are
        squashed to S x S (bilinear)."""
        pixels = torch.stack([self._pixels(image) for image in images])  # (N, S, S, 3)
        x = pixels.permute(0, 3, 1, 2).float() / 255.0
        mean = torch.tensor(self.MEAN).view(1, 3, 1, 1)
        std = torch.tensor(self.STD).view(1, 3, 1, 1)
        return (x - mean) / std

    @torch.no_grad()
    def predict(self, images) -> tuple[list[str], torch.Tensor]:
        """(predicted class name per image, class probabilities (N, classes)) for one
        raw image or a list of them (see `preprocess`)."""
        if not isinstance(images, (list, tuple)):
            images = [images]
        was_training = self.training
        self.eval()
        try:
            device = next(self.parameters()).device
            probs = self(self.preprocess(images).to(device)).float().softmax(1).cpu()
        finally:
            self.train(was_training)
        return [self.CLASS_NAMES[i] for i in probs.argmax(1).tolist()], probs

    def _pixels(self, image) -> torch.Tensor:
        s = self.INPUT_SIZE
        if isinstance(image, torch.Tensor):
            image = image.cpu().numpy()
        shape = tuple(getattr(image, "shape", ()))
        if shape == (s, s, 3) and str(image.dtype) == "uint8":
            return torch.tensor(image)
        from PIL import Image

        if shape:
            if str(image.dtype) != "uint8":
                raise ValueError(f"images must be uint8 arrays, not {{image.dtype}}")
            image = Image.fromarray(image[:, :, 0] if shape[2:] == (1,) else image)
        elif not hasattr(image, "mode"):  # a path
            image = Image.open(image)
            # JPEG: decode at a reduced scale that is still >= s, as training did
            image.draft("RGB", (s, s))
        if image.mode in ("RGBA", "LA", "PA") or (
            image.mode == "P" and "transparency" in image.info
        ):
            rgba = image.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(white, rgba)
        if image.mode != "RGB":
            image = image.convert("RGB")
        if image.size != (s, s):
            image = image.resize((s, s), Image.Resampling.BILINEAR)
        pixels = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
        return pixels.view(s, s, 3)
'''


def default_preprocessing(num_classes: int, image_size: int = 32) -> dict[str, Any]:
    """For weights saved before checkpoints carried their DataSpec: CIFAR-10's."""
    return cifar10_spec(num_classes, image_size).to_dict()


def classifier_source(preprocessing: dict[str, Any]) -> str:
    """The `Classifier` base class for the generated model.py, with these values (a DataSpec.to_dict())
    written in."""

    def numbers(values) -> str:
        return "(" + ", ".join(f"{float(v):.6g}" for v in values) + ")"

    return _CLASSIFIER.format(
        size=int(preprocessing["image_size"]),
        mean=numbers(preprocessing["mean"]),
        std=numbers(preprocessing["std"]),
        class_names=_names(preprocessing["class_names"]),
    ).strip("\n")


def _names(names: list[str]) -> str:
    """A tuple of string literals as ruff format writes it: on one line when it fits, else one per line."""
    literals = [json.dumps(str(n), ensure_ascii=False) for n in names]
    one_line = "(" + ", ".join(literals) + ")"
    if len("    CLASS_NAMES = ") + len(one_line) <= 88:
        return one_line
    return "(\n" + "".join(f"        {text},\n" for text in literals) + "    )"


__all__ = ["classifier_source", "default_preprocessing"]
