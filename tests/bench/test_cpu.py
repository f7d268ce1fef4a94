"""bench.cpu.machine_speed: the best of several timings of the same loop."""

import pytest

from bench.cpu import machine_speed


def test_machine_speed_is_the_fastest_round():
    readings = iter([10.0, 10.5, 20.0, 20.2, 30.0, 30.9])  # rounds of 0.5, 0.2 and 0.9 s

    best = machine_speed(rounds=3, iterations=10, clock=lambda: next(readings))

    assert best == pytest.approx(0.2)


def test_machine_speed_measures_real_cpu_time():
    assert 0 < machine_speed(rounds=1, iterations=200_000) < 5
