import numpy as np
import torch

from nas.train import augment, flip_rule


def numbered(n: int, size: int = 8) -> torch.Tensor:
    """n copies of a 1-channel image whose pixels are 1..size² (all distinct, none equal to the zero
    padding)."""
    img = torch.arange(1, size * size + 1, dtype=torch.uint8).view(1, 1, size, size)
    return img.repeat(n, 1, 1, 1)


def shift_of(out: torch.Tensor, img: torch.Tensor) -> tuple[int, int]:
    """The (dy, dx) with out[y, x] == img[y + dy, x + dx] wherever that lies inside img, found from one
    pixel."""
    size = img.shape[-1]
    ys, xs = torch.nonzero(out[0] > 0, as_tuple=True)
    v = int(out[0, ys[0], xs[0]]) - 1
    return v // size - int(ys[0]), v % size - int(xs[0])


def shifted(img: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    size = img.shape[-1]
    out = torch.zeros_like(img)
    for y in range(size):
        for x in range(size):
            if 0 <= y + dy < size and 0 <= x + dx < size:
                out[..., y, x] = img[..., y + dy, x + dx]
    return out


def test_random_crop_is_a_zero_padded_shift_within_the_padding():
    torch.manual_seed(0)
    x = numbered(64)
    out = augment.random_crop(x, padding=2)
    assert out.shape == x.shape and out.dtype == torch.uint8
    shifts = set()
    for i in range(len(out)):
        dy, dx = shift_of(out[i], x[i])
        assert -2 <= dy <= 2 and -2 <= dx <= 2
        assert torch.equal(out[i], shifted(x[i], dy, dx))
        shifts.add((dy, dx))
    assert len(shifts) > 10  # offsets are drawn per image, not once per batch


def test_random_crop_with_zero_padding_is_the_identity():
    x = numbered(3)
    assert torch.equal(augment.random_crop(x, padding=0), x)


def test_flip_mirrors_about_half_of_the_images():
    torch.manual_seed(0)
    x = numbered(200)
    out = augment.random_flip(x)
    flipped = [torch.equal(o, i.flip(-1)) for o, i in zip(out, x)]
    kept = [torch.equal(o, i) for o, i in zip(out, x)]
    assert all(f != k for f, k in zip(flipped, kept))
    assert 60 < sum(flipped) < 140


def test_cutout_zeroes_one_clipped_square_per_image():
    torch.manual_seed(0)
    x = torch.ones(100, 3, 16, 16)
    out = augment.cutout(x, 6)
    for img in out:
        hole = img[0] == 0
        assert torch.equal(hole, (img == 0).all(0))  # the same pixels in every channel
        rows, cols = hole.any(1).nonzero().flatten(), hole.any(0).nonzero().flatten()
        assert 1 <= len(rows) <= 6 and 1 <= len(cols) <= 6
        assert hole.sum() == len(rows) * len(cols)  # a rectangle: the square clipped at the edges
        assert 3 * 3 <= hole.sum() <= 36  # the centre is on the image, so at least a quarter remains
    assert (out == 0).float().mean() > 0.05


def test_train_batch_gives_normalised_float_images_of_the_same_shape():
    torch.manual_seed(0)
    x = torch.full((4, 3, 32, 32), 128, dtype=torch.uint8)
    mean = torch.tensor(augment.CIFAR10_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(augment.CIFAR10_STD).view(1, 3, 1, 1)
    out = augment.train_batch(x, mean, std, crop_padding=0, cutout_size=0)
    assert out.shape == x.shape and out.dtype == torch.float32
    expected = (128 / 255 - torch.tensor(augment.CIFAR10_MEAN)) / torch.tensor(augment.CIFAR10_STD)
    torch.testing.assert_close(out[0, :, 5, 5], expected)


def test_train_batch_without_flip_never_mirrors():
    torch.manual_seed(0)
    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.uint8).view(2, 3, 4, 4).repeat(16, 1, 1, 1)
    mean, std = torch.zeros(1, 3, 1, 1), torch.ones(1, 3, 1, 1)
    out = augment.train_batch(x, mean, std, crop_padding=0, flip=False)
    assert torch.equal(out, x.float() / 255.0)


def test_flip_rule_separates_mirror_classes_from_symmetric_ones():
    rng = np.random.default_rng(0)
    y = np.arange(200) % 4
    x = rng.integers(0, 30, (200, 16, 16, 3)).astype(np.uint8)
    symmetric = x.copy()
    for c in range(4):  # each class a centred square of its own size: mirror-symmetric class means
        lo, hi = 6 - c, 10 + c
        symmetric[y == c, lo:hi, lo:hi] += 150
    lopsided = x.copy()
    for c in range(4):  # each class a bar at its own column left of centre: mirroring moves it to the right
        lopsided[y == c, :, c * 2 : c * 2 + 2] += 150
    assert flip_rule.asymmetry(symmetric, y) < 0.1 and flip_rule.flips_suit(symmetric, y)
    assert flip_rule.asymmetry(lopsided, y) > 0.5 and not flip_rule.flips_suit(lopsided, y)
    assert (
        flip_rule.asymmetry(lopsided, np.zeros(200, dtype=np.int64)) == 0.0
    )  # one class: nothing to confuse
    assert flip_rule.resolve_flip("on", lopsided, y) and not flip_rule.resolve_flip("off", symmetric, y)
