"""The generated CT phantom (paperzoo.seg3d.phantom)."""

import numpy as np

from paperzoo.seg3d.phantom import ORGANS, make_phantom


def test_phantom_labels_hu_and_settings_differ():
    img, lab = make_phantom((40, 40, 40), "A", seed=3)
    img2, lab2 = make_phantom((40, 40, 40), "A", seed=3)
    np.testing.assert_array_equal(lab, lab2)  # deterministic
    np.testing.assert_array_equal(img, img2)
    assert img.dtype == np.float32 and lab.dtype == np.uint8 and img.shape == lab.shape == (40, 40, 40)
    assert set(np.unique(lab)) == set(range(len(ORGANS)))  # every organ present
    assert img[0, 0, 0] < -900  # air outside the body
    assert 60 < np.median(img[lab == 1]) < 140  # liver in HU
    assert (lab == 4).mean() < (lab == 1).mean() / 10  # pancreas small vs liver
    imgb, _ = make_phantom((40, 40, 40), "B", seed=3)
    noise = lambda v: np.std(v[lab == 1] - np.median(v[lab == 1]))  # noqa: E731
    assert noise(imgb) > noise(img)  # "another hospital": noisier
