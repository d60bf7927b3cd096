//! Independent items rendered on several threads, each with its own synthesizer, and handed back
//! in input order, so that files appear in the order one thread would write them.
//!
//! At batch size 1 the models' operations are too small to share between cores; whole items
//! share them with no hand-over at all. Each worker runs inside a one-thread rayon pool, so the
//! kernels that would split work across the global pool stay on the worker's own core.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

/// Threads worth using for `count` items: the cores this process may run on, at most `count`.
pub fn workers_for(count: usize) -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(count)
        .max(1)
}

/// Runs `work(worker, i)` for `i` in `0..count` on `workers` threads (each building its worker
/// state with `make_worker` before its first item) and calls `deliver(i, result)` on this
/// thread in order of `i`. The first error, in input order, stops the batch and is returned.
///
/// ```
/// let mut squares = Vec::new();
/// mellow_engine::pool::in_order(
///     5,
///     2,
///     || Ok::<_, String>(()),
///     |_, i| Ok(i * i),
///     |_, v| {
///         squares.push(v);
///         Ok(())
///     },
/// )
/// .unwrap();
/// assert_eq!(squares, [0, 1, 4, 9, 16]);
/// ```
pub fn in_order<W, T: Send, E: Send>(
    count: usize,
    workers: usize,
    make_worker: impl Fn() -> Result<W, E> + Sync,
    work: impl Fn(&mut W, usize) -> Result<T, E> + Sync,
    mut deliver: impl FnMut(usize, T) -> Result<(), E>,
) -> Result<(), E> {
    let next_item = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (results, received) = mpsc::channel::<(usize, Result<T, E>)>();
        for _ in 0..workers.max(1) {
            let results = results.clone();
            let (next_item, stop, make_worker, work) = (&next_item, &stop, &make_worker, &work);
            scope.spawn(move || {
                let run = || {
                    let mut state = None;
                    while !stop.load(Ordering::Relaxed) {
                        let i = next_item.fetch_add(1, Ordering::Relaxed);
                        if i >= count {
                            break;
                        }
                        let result = match &mut state {
                            Some(w) => work(w, i),
                            None => make_worker().and_then(|w| work(state.insert(w), i)),
                        };
                        let failed = result.is_err();
                        if results.send((i, result)).is_err() || failed {
                            break;
                        }
                    }
                };
                match rayon::ThreadPoolBuilder::new().num_threads(1).build() {
                    Ok(pool) => pool.install(run),
                    Err(_) => run(),
                }
            });
        }
        drop(results);
        let mut pending = BTreeMap::new();
        let mut next = 0;
        let outcome = (|| {
            for (i, result) in received.iter() {
                pending.insert(i, result);
                while let Some(result) = pending.remove(&next) {
                    deliver(next, result?)?;
                    next += 1;
                }
            }
            Ok(())
        })();
        stop.store(true, Ordering::Relaxed);
        outcome
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn results_arrive_in_order_from_every_worker() {
        let made = AtomicUsize::new(0);
        let mut seen = Vec::new();
        in_order(
            50,
            3,
            || Ok::<_, String>(made.fetch_add(1, Ordering::Relaxed)),
            |_, i| {
                // Later items finish first.
                std::thread::sleep(std::time::Duration::from_micros(((50 - i) * 20) as u64));
                Ok(i * 10)
            },
            |i, v| {
                seen.push((i, v));
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, (0..50).map(|i| (i, i * 10)).collect::<Vec<_>>());
        assert!(made.load(Ordering::Relaxed) <= 3);
    }

    #[test]
    fn the_first_error_in_input_order_stops_the_batch() {
        let delivered = Mutex::new(Vec::new());
        let err = in_order(
            100,
            2,
            || Ok::<_, String>(()),
            |_, i| {
                if i == 7 || i == 9 {
                    return Err(format!("item {i} is bad"));
                }
                Ok(i)
            },
            |i, _| {
                delivered.lock().unwrap().push(i);
                Ok(())
            },
        )
        .unwrap_err();
        assert_eq!(err, "item 7 is bad");
        assert_eq!(*delivered.lock().unwrap(), (0..7).collect::<Vec<_>>());
    }

    #[test]
    fn a_worker_that_cannot_start_reports_why() {
        let err = in_order(
            4,
            2,
            || -> Result<(), String> { Err("no voice".into()) },
            |_, i| Ok(i),
            |_, _| Ok(()),
        )
        .unwrap_err();
        assert_eq!(err, "no voice");
    }
}
