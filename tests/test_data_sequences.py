"""Sequence data for unit 04: real sunspot numbers, the Mackey-Glass series, fixed-history windows."""
import numpy as np
import pytest

from nnlib import data
from test_data import no_network  # noqa: F401  (fixture)

pytestmark = pytest.mark.unit04


# -- sunspots -----------------------------------------------------------------

def test_sunspots_are_309_consecutive_years_read_without_network(no_network):
    years, activity = data.sunspots()
    assert years.shape == activity.shape == (309,)
    assert years.dtype == activity.dtype == np.float64
    np.testing.assert_array_equal(years, np.arange(1700, 2009))
    assert np.all(activity >= 0)


def test_sunspots_known_values():
    years, activity = data.sunspots()
    assert activity[0] == 5.0                                   # 1700
    assert activity.max() == 190.2 and years[activity.argmax()] == 1957.0


def test_sunspots_have_the_eleven_year_cycle():
    _, activity = data.sunspots()
    power = np.abs(np.fft.rfft(activity - activity.mean())) ** 2
    freqs = np.fft.rfftfreq(len(activity), d=1.0)               # cycles per year
    period = 1.0 / freqs[1 + power[1:].argmax()]
    assert 9.5 < period < 12.5, period


# -- Mackey-Glass -------------------------------------------------------------

def test_mackey_glass_shape_dtype_and_determinism():
    x = data.mackey_glass(300)
    assert x.shape == (300,) and x.dtype == np.float64
    np.testing.assert_array_equal(x, data.mackey_glass(300))


def test_mackey_glass_satisfies_its_delay_differential_equation():
    dt, tau = 0.1, 17.0
    x = data.mackey_glass(2000, tau=tau, dt=dt, sample_every=dt, transient=100.0)
    lag = int(tau / dt)
    k = np.arange(lag + 1, len(x) - 1)
    lhs = (x[k + 1] - x[k - 1]) / (2 * dt)                      # central difference, O(dt^2)
    rhs = 0.2 * x[k - lag] / (1 + x[k - lag] ** 10) - 0.1 * x[k]
    assert np.max(np.abs(lhs - rhs)) < 1e-3 * np.max(np.abs(rhs))


def test_mackey_glass_converges_as_the_step_shrinks():
    runs = [data.mackey_glass(100, dt=dt, transient=0.0) for dt in (0.1, 0.05, 0.025)]
    err_coarse = np.max(np.abs(runs[0] - runs[2]))
    err_fine = np.max(np.abs(runs[1] - runs[2]))
    assert err_coarse < 1e-4
    assert err_fine < err_coarse / 3          # at least second order in dt (the delayed value is interpolated)


def test_mackey_glass_short_delay_settles_on_the_fixed_point():
    # the fixed point solves beta / (1 + x^10) = gamma
    np.testing.assert_allclose(data.mackey_glass(50, tau=3.0, transient=1000.0)[-10:], 1.0, atol=1e-6)
    np.testing.assert_allclose(data.mackey_glass(50, tau=3.0, beta=0.3, transient=1000.0)[-10:],
                               2.0 ** 0.1, atol=1e-5)


def test_mackey_glass_tau_17_is_chaotic_bounded_and_sensitive_to_its_start():
    a = data.mackey_glass(3000)
    b = data.mackey_glass(3000, x0=1.2 + 1e-6)
    assert 0.3 < a.min() and a.max() < 1.4 and a.std() > 0.15
    assert np.max(np.abs(a[:20] - b[:20])) < 1e-4               # the same at first ...
    assert np.max(np.abs(a[-600:] - b[-600:])) > 0.1            # ... unrelated later


def test_mackey_glass_rejects_bad_arguments():
    with pytest.raises(ValueError, match="sample_every >= dt"):
        data.mackey_glass(10, dt=1.0, sample_every=0.5)


# -- windows ------------------------------------------------------------------

def test_sliding_windows_by_hand():
    w, y = data.sliding_windows(np.arange(6.0), width=3)
    np.testing.assert_array_equal(w, [[0, 1, 2], [1, 2, 3], [2, 3, 4]])
    np.testing.assert_array_equal(y, [3, 4, 5])
    w, y = data.sliding_windows(np.arange(6.0), width=2, horizon=3)
    np.testing.assert_array_equal(w, [[0, 1], [1, 2]])
    np.testing.assert_array_equal(y, [4, 5])


def test_sliding_windows_of_a_multichannel_series():
    s = np.arange(10.0).reshape(5, 2)
    w, y = data.sliding_windows(s, width=2)
    assert w.shape == (3, 2, 2) and y.shape == (3, 2)
    np.testing.assert_array_equal(w[1], s[1:3])
    np.testing.assert_array_equal(y[1], s[3])


def test_sliding_windows_too_short_says_so():
    with pytest.raises(ValueError, match="length 3 has no window of width 3"):
        data.sliding_windows(np.zeros(3), width=3)
