//! Trend forecasts of a numeric series: least squares and Holt smoothing, time-to-threshold.

use serde::{Deserialize, Serialize};

/// Smoothing factor for the level used by [`fit`] with [`Method::Holt`].
pub const HOLT_ALPHA: f64 = 0.5;
/// Smoothing factor for the trend used by [`fit`] with [`Method::Holt`].
pub const HOLT_BETA: f64 = 0.3;

/// One sample: seconds (any epoch, f64) and value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// Time in seconds.
    pub t: f64,
    /// Observed value.
    pub v: f64,
}

impl Point {
    fn is_finite(&self) -> bool {
        self.t.is_finite() && self.v.is_finite()
    }
}

/// Which model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Ordinary least squares over the window (PromQL `predict_linear`).
    #[default]
    Linear,
    /// Holt's linear trend (double exponential smoothing).
    Holt,
}

/// A fitted trend: value at `t0` and slope per second.
///
/// `r2` is the coefficient of determination. For [`Method::Linear`] it is the usual
/// least-squares r² in `[0, 1]` (1 when the values are constant). For [`Method::Holt`] it is
/// `1 - MSE(one-step residuals) / variance(values)`, which can be negative when the smoother
/// predicts worse than the mean, and is NaN when there are no residuals or no variance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Trend {
    /// Anchor time (the last point's time), seconds.
    pub t0: f64,
    /// Fitted value at `t0`.
    pub level: f64,
    /// Change per second.
    pub slope: f64,
    /// Goodness of fit; see the type documentation.
    pub r2: f64,
}

impl Trend {
    /// Predicted value at time `t`.
    pub fn at(&self, t: f64) -> f64 {
        self.level + self.slope * (t - self.t0)
    }

    /// Seconds from `t0` until the trend reaches `threshold`; None if it never does.
    ///
    /// None when the slope is zero or points away, or anything is non-finite.
    pub fn time_to(&self, threshold: f64) -> Option<f64> {
        let diff = threshold - self.level;
        if !diff.is_finite() || !self.slope.is_finite() {
            return None;
        }
        if diff == 0.0 {
            return Some(0.0);
        }
        if self.slope == 0.0 {
            return None;
        }
        let s = diff / self.slope;
        (s.is_finite() && s > 0.0).then_some(s)
    }
}

/// Centered running sums of the finite points (Welford's single-pass update).
#[derive(Clone, Copy, Debug, Default)]
struct Moments {
    n: usize,
    mean_t: f64,
    mean_v: f64,
    stt: f64,
    stv: f64,
    svv: f64,
    t_min: f64,
    t_max: f64,
    t_last: f64,
    v_last: f64,
}

impl Moments {
    fn of(points: &[Point]) -> Self {
        let mut m = Moments {
            t_min: f64::INFINITY,
            t_max: f64::NEG_INFINITY,
            ..Moments::default()
        };
        for p in points.iter().filter(|p| p.is_finite()) {
            m.n += 1;
            let n = m.n as f64;
            let dt = p.t - m.mean_t;
            let dv = p.v - m.mean_v;
            m.mean_t += dt / n;
            m.mean_v += dv / n;
            m.stt += dt * (p.t - m.mean_t);
            m.stv += dt * (p.v - m.mean_v);
            m.svv += dv * (p.v - m.mean_v);
            m.t_min = m.t_min.min(p.t);
            m.t_max = m.t_max.max(p.t);
            m.t_last = p.t;
            m.v_last = p.v;
        }
        m
    }

    fn trend(&self) -> Option<Trend> {
        if self.n < 2 || self.stt.is_nan() || self.stt <= 0.0 {
            return None;
        }
        let slope = self.stv / self.stt;
        let level = self.mean_v + slope * (self.t_last - self.mean_t);
        let r2 = if self.svv > 0.0 {
            (self.stv * self.stv / (self.stt * self.svv)).clamp(0.0, 1.0)
        } else {
            1.0
        };
        let trend = Trend {
            t0: self.t_last,
            level,
            slope,
            r2,
        };
        (slope.is_finite() && level.is_finite()).then_some(trend)
    }

    /// Residual standard deviation of the least-squares line with `slope`.
    fn residual_sd(&self, slope: f64) -> f64 {
        if self.n <= 2 {
            return 0.0;
        }
        let sse = (self.svv - slope * self.stv).max(0.0);
        (sse / (self.n - 2) as f64).sqrt()
    }

    fn span(&self) -> f64 {
        self.t_max - self.t_min
    }
}

/// Least squares over the points (PromQL `predict_linear`), anchored at the last point's time.
///
/// NaN/infinite points are skipped; None when fewer than 2 remain or all share one time.
pub fn linear(points: &[Point]) -> Option<Trend> {
    Moments::of(points).trend()
}

/// Holt's linear trend (double exponential smoothing), anchored at the last point.
///
/// `alpha` smooths the level and `beta` the trend; the trend is a slope per second (its update
/// divides by the gap), so uneven spacing is handled. Points whose time does not advance are
/// skipped. Same None rules as [`linear`]; factors outside `[0, 1]` fall back to the defaults.
pub fn holt(points: &[Point], alpha: f64, beta: f64) -> Option<Trend> {
    let alpha = if (0.0..=1.0).contains(&alpha) {
        alpha
    } else {
        HOLT_ALPHA
    };
    let beta = if (0.0..=1.0).contains(&beta) {
        beta
    } else {
        HOLT_BETA
    };
    let mut it = points.iter().filter(|p| p.is_finite());
    let first = it.next()?;
    let (mut t_prev, mut level) = (first.t, first.v);
    let mut trend: Option<f64> = None;
    // Variance of the values used, and one-step-ahead residuals.
    let (mut n, mut mean_v, mut svv) = (1usize, first.v, 0.0f64);
    let (mut m, mut sse) = (0usize, 0.0f64);
    for p in it {
        let dt = p.t - t_prev;
        if dt.is_nan() || dt <= 0.0 {
            continue;
        }
        n += 1;
        let d = p.v - mean_v;
        mean_v += d / n as f64;
        svv += d * (p.v - mean_v);
        match trend {
            None => {
                trend = Some((p.v - level) / dt);
                level = p.v;
            }
            Some(b) => {
                let forecast = level + b * dt;
                let e = p.v - forecast;
                sse += e * e;
                m += 1;
                let new_level = alpha * p.v + (1.0 - alpha) * forecast;
                trend = Some(beta * (new_level - level) / dt + (1.0 - beta) * b);
                level = new_level;
            }
        }
        t_prev = p.t;
    }
    let slope = trend?;
    let r2 = if m > 0 && svv > 0.0 {
        1.0 - (sse / m as f64) / (svv / n as f64)
    } else {
        f64::NAN
    };
    let fitted = Trend {
        t0: t_prev,
        level,
        slope,
        r2,
    };
    (slope.is_finite() && level.is_finite()).then_some(fitted)
}

/// Fits with `method` (Holt with alpha 0.5, beta 0.3).
pub fn fit(method: Method, points: &[Point]) -> Option<Trend> {
    match method {
        Method::Linear => linear(points),
        Method::Holt => holt(points, HOLT_ALPHA, HOLT_BETA),
    }
}

/// Verdict of a forecast against a threshold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Breach {
    /// Seconds from the last point until the crossing.
    pub seconds: f64,
    /// Absolute time of the crossing, in the points' epoch.
    pub at: f64,
}

/// When a series rising (falling if `falling`) toward `threshold` will cross it within `horizon`.
///
/// Returns None if the last value is already past the threshold, if the slope points away, if
/// the crossing is beyond `horizon`, or if the trend is not significant: a least-squares fit of
/// the same points must have r² >= 0.5 and a predicted change over the window span (in the
/// watched direction) larger than 3 residual standard deviations, whichever `method` is used.
pub fn breach(
    method: Method,
    points: &[Point],
    threshold: f64,
    falling: bool,
    horizon: f64,
) -> Option<Breach> {
    if !threshold.is_finite() {
        return None;
    }
    let moments = Moments::of(points);
    let ls = moments.trend()?;
    let directed = if falling { -ls.slope } else { ls.slope };
    let rise = directed * moments.span();
    let significant = ls.r2 >= 0.5 && rise > 3.0 * moments.residual_sd(ls.slope);
    if !significant {
        return None;
    }
    let past = if falling {
        moments.v_last <= threshold
    } else {
        moments.v_last >= threshold
    };
    if past {
        return None;
    }
    let trend = match method {
        Method::Linear => ls,
        Method::Holt => holt(points, HOLT_ALPHA, HOLT_BETA)?,
    };
    let toward = if falling {
        trend.slope < 0.0
    } else {
        trend.slope > 0.0
    };
    if !toward {
        return None;
    }
    let seconds = trend.time_to(threshold)?;
    if horizon.is_nan() || seconds > horizon {
        return None;
    }
    Some(Breach {
        seconds,
        at: trend.t0 + seconds,
    })
}

/// "~3 h", "~25 min", "~40 s", "~2 d": a short human duration for a time-to-threshold badge.
pub fn human(seconds: f64) -> String {
    if seconds.is_nan() {
        return "~?".to_string();
    }
    if seconds.is_infinite() && seconds > 0.0 {
        return "~∞".to_string();
    }
    let s = seconds.max(0.0);
    let (n, unit) = if s < 59.5 {
        (s, "s")
    } else if s < 59.5 * 60.0 {
        (s / 60.0, "min")
    } else if s < 23.5 * 3600.0 {
        (s / 3600.0, "h")
    } else {
        (s / 86_400.0, "d")
    };
    format!("~{} {unit}", n.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// v = a + b * t over t = 0..=600 step 10.
    fn line(a: f64, b: f64) -> Vec<Point> {
        let times = (0..=60_i32).map(|i| f64::from(i) * 10.0);
        times.map(|t| Point { t, v: a + b * t }).collect()
    }

    /// Deterministic noise of +-5 around 50, 1000 points 10 s apart (a 64-bit LCG).
    fn noise() -> Vec<Point> {
        let times = (0..1000_i32).map(|i| f64::from(i) * 10.0);
        let noisy = times.scan(0x2545_F491_4F6C_DD1D_u64, |s, t| {
            *s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let u = (*s >> 11) as f64 / (1u64 << 53) as f64;
            Some(Point {
                t,
                v: 50.0 + (u * 2.0 - 1.0) * 5.0,
            })
        });
        noisy.collect()
    }

    fn close(got: f64, want: f64, rel: f64) -> bool {
        (got - want).abs() <= want.abs() * rel
    }

    #[test]
    fn linear_time_to_within_one_percent() {
        // 10 + 0.5 t is 310 at t = 600; 900 is (900 - 310) / 0.5 = 1180 s later.
        let tr = linear(&line(10.0, 0.5)).unwrap();
        assert!(close(tr.t0, 600.0, 1e-9) && close(tr.slope, 0.5, 1e-9) && tr.r2 > 0.999);
        let s = tr.time_to(900.0).unwrap();
        assert!(close(s, 1180.0, 0.01), "{s}");
        assert!(close(tr.at(700.0), 360.0, 1e-9));
        // 90 was crossed long before the last point.
        assert_eq!(tr.time_to(90.0), None);
    }

    #[test]
    fn breach_on_linear_series() {
        // 10 + 0.05 t is 40 at t = 600; 90 is (90 - 40) / 0.05 = 1000 s later.
        let pts = line(10.0, 0.05);
        let b = breach(Method::Linear, &pts, 90.0, false, 1e6).unwrap();
        assert!(
            close(b.seconds, 1000.0, 0.1) && close(b.at, 1600.0, 0.1),
            "{b:?}"
        );
        let h = breach(Method::Holt, &pts, 90.0, false, 1e6).unwrap();
        assert!(close(h.seconds, 1000.0, 0.1), "{h:?}");
        // Beyond the horizon, or already past: nothing.
        assert_eq!(breach(Method::Linear, &pts, 90.0, false, 500.0), None);
        assert_eq!(
            breach(Method::Linear, &line(10.0, 0.5), 90.0, false, 1e6),
            None
        );
    }

    #[test]
    fn holt_tracks_a_linear_series() {
        let tr = holt(&line(10.0, 0.5), 0.5, 0.3).unwrap();
        assert!(close(tr.slope, 0.5, 0.1), "{tr:?}");
        assert!(close(tr.time_to(900.0).unwrap(), 1180.0, 0.1), "{tr:?}");
        assert_eq!(fit(Method::Holt, &line(10.0, 0.5)), Some(tr));
    }

    #[test]
    fn flat_noise_never_alarms() {
        let pts = noise();
        assert!(pts.iter().all(|p| (45.0..=55.0).contains(&p.v)));
        assert!(linear(&pts).unwrap().r2 < 0.5);
        assert_eq!(breach(Method::Linear, &pts, 90.0, false, 1e9), None);
        assert_eq!(breach(Method::Holt, &pts, 90.0, false, 1e9), None);
        assert_eq!(breach(Method::Linear, &pts, 10.0, true, 1e9), None);
    }

    #[test]
    fn falling_series() {
        // 500 - 0.2 t is 380 at t = 600; 300 is 400 s later.
        let pts = line(500.0, -0.2);
        let b = breach(Method::Linear, &pts, 300.0, true, 1e6).unwrap();
        assert!(close(b.seconds, 400.0, 0.01), "{b:?}");
        let h = breach(Method::Holt, &pts, 300.0, true, 1e6).unwrap();
        assert!(close(h.seconds, 400.0, 0.1), "{h:?}");
        // Watching for a rise on a falling series: the slope points away.
        assert_eq!(breach(Method::Linear, &pts, 900.0, false, 1e9), None);
    }

    #[test]
    fn too_few_or_non_finite_points() {
        let one = [Point { t: 0.0, v: 1.0 }];
        let same_t = [Point { t: 5.0, v: 1.0 }, Point { t: 5.0, v: 2.0 }];
        let nan_and_one = [
            Point {
                t: 0.0,
                v: f64::NAN,
            },
            Point { t: 1.0, v: 3.0 },
        ];
        let none: [Point; 0] = [];
        for pts in [&none[..], &one[..], &same_t[..], &nan_and_one[..]] {
            assert_eq!(linear(pts), None);
            assert_eq!(holt(pts, 0.5, 0.3), None);
            assert_eq!(breach(Method::Linear, pts, 2.0, false, 1e9), None);
        }
        let mut pts = line(10.0, 0.05);
        pts.insert(
            5,
            Point {
                t: 45.0,
                v: f64::NAN,
            },
        );
        pts.insert(
            20,
            Point {
                t: 185.0,
                v: f64::INFINITY,
            },
        );
        pts.push(Point {
            t: f64::NAN,
            v: 1.0,
        });
        let tr = linear(&pts).unwrap();
        assert!(
            close(tr.slope, 0.05, 1e-9) && close(tr.t0, 600.0, 1e-9),
            "{tr:?}"
        );
        assert!(close(holt(&pts, 0.5, 0.3).unwrap().slope, 0.05, 0.1));
    }

    #[test]
    fn time_to_edges_and_large_epochs() {
        let flat = Trend {
            t0: 0.0,
            level: 5.0,
            slope: 0.0,
            r2: 1.0,
        };
        assert_eq!((flat.time_to(6.0), flat.time_to(5.0)), (None, Some(0.0)));
        let up = Trend { slope: 1.0, ..flat };
        assert_eq!((up.time_to(4.0), up.time_to(f64::NAN)), (None, None));
        assert_eq!(up.time_to(8.0), Some(3.0));
        let times = (0..10_000_i32).map(|i| 1.7e9 + f64::from(i) * 15.0);
        let pts: Vec<Point> = times
            .map(|t| Point {
                t,
                v: 20.0 + 0.001 * (t - 1.7e9),
            })
            .collect();
        let tr = linear(&pts).unwrap();
        assert!(close(tr.slope, 0.001, 1e-6), "{tr:?}");
        assert!(close(tr.level, 20.0 + 0.001 * 149_985.0, 1e-6), "{tr:?}");
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(10800.0), "~3 h");
        assert_eq!(human(1500.0), "~25 min");
        assert_eq!(human(40.0), "~40 s");
        assert_eq!(human(2.0 * 86_400.0), "~2 d");
        assert_eq!(human(59.8), "~1 min");
        assert_eq!(human(-3.0), "~0 s");
        assert_eq!(
            serde_json::from_str::<Method>("\"holt\"").unwrap(),
            Method::Holt
        );
    }
}
