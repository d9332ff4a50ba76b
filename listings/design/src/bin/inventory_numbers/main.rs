//! 3.3 E-commerce inventory and orders: the back-of-the-envelope numbers.
//!
//! Every figure the chapter quotes is computed here from a few stated
//! assumptions, so that changing one assumption changes every figure that
//! depends on it, and the tests check the arithmetic.

// ANCHOR: assumptions
/// What we assume about the shop; everything else is derived.
pub struct Assumptions {
    pub orders_per_day: u64,
    /// Peak hour traffic over the day's average.
    pub peak_factor: u64,
    pub lines_per_order: u64,
    /// Payment attempts, webhook events and status changes per order.
    pub events_per_order: u64,
    /// Bytes per row, indexes included.
    pub order_row_bytes: u64,
    pub line_row_bytes: u64,
    pub event_row_bytes: u64,
    /// A flash sale: buyers who click "buy" within the first seconds.
    pub flash_buyers: u64,
    pub flash_seconds: u64,
    pub flash_units: u64,
}

pub const SHOP: Assumptions = Assumptions {
    orders_per_day: 1_000_000,
    peak_factor: 10,
    lines_per_order: 3,
    events_per_order: 6,
    order_row_bytes: 400,
    line_row_bytes: 200,
    event_row_bytes: 300,
    flash_buyers: 500_000,
    flash_seconds: 10,
    flash_units: 10_000,
};

// ANCHOR_END: assumptions

// ANCHOR: formulas
const SECONDS_PER_DAY: u64 = 86_400;

/// Integer division rounding up: capacity is never rounded in our favour.
pub fn div_ceil(a: u64, b: u64) -> u64 {
    a.div_ceil(b)
}

pub fn average_orders_per_second(a: &Assumptions) -> u64 {
    div_ceil(a.orders_per_day, SECONDS_PER_DAY)
}

pub fn peak_orders_per_second(a: &Assumptions) -> u64 {
    average_orders_per_second(a) * a.peak_factor
}

pub fn flash_attempts_per_second(a: &Assumptions) -> u64 {
    div_ceil(a.flash_buyers, a.flash_seconds)
}

/// Rows written in a year: orders, order lines, events.
pub fn rows_per_year(a: &Assumptions) -> (u64, u64, u64) {
    let orders = a.orders_per_day * 365;
    (
        orders,
        orders * a.lines_per_order,
        orders * a.events_per_order,
    )
}

pub fn bytes_per_year(a: &Assumptions) -> u64 {
    let (orders, lines, events) = rows_per_year(a);
    orders * a.order_row_bytes
        + lines * a.line_row_bytes
        + events * a.event_row_bytes
}

/// The share of flash-sale buyers who must be told "sold out", in %.
pub fn sold_out_percent(a: &Assumptions) -> u64 {
    a.flash_buyers.saturating_sub(a.flash_units) * 100 / a.flash_buyers
}

/// One row's updates are serialised by its lock: at most one per lock
/// hold time, whatever the hardware.
pub fn max_updates_per_second(lock_hold_micros: u64) -> u64 {
    1_000_000 / lock_hold_micros
}

/// Rows (stock split into buckets) needed to absorb `rate` decrements/s.
pub fn buckets_needed(rate: u64, lock_hold_micros: u64) -> u64 {
    div_ceil(rate, max_updates_per_second(lock_hold_micros))
}

// ANCHOR_END: formulas

// ANCHOR: main
fn main() {
    let a = &SHOP;
    println!("orders/day: {}", a.orders_per_day);
    println!("average: {} orders/s", average_orders_per_second(a));
    println!(
        "peak (x{}): {} orders/s",
        a.peak_factor,
        peak_orders_per_second(a)
    );
    let (orders, lines, events) = rows_per_year(a);
    println!("rows/year: {orders} orders, {lines} lines, {events} events");
    println!(
        "storage/year: {} GB",
        div_ceil(bytes_per_year(a), 1_000_000_000)
    );
    let rate = flash_attempts_per_second(a);
    println!(
        "flash sale: {} buyers in {} s, {} units: {rate} attempts/s",
        a.flash_buyers, a.flash_seconds, a.flash_units
    );
    println!("  sold out for {} % of the buyers", sold_out_percent(a));
    println!("one hot row, by lock hold time:");
    for (what, micros) in [
        ("one UPDATE, autocommit", 1_000),
        ("read, then write, in a transaction", 5_000),
        ("held across a payment call", 200_000),
    ] {
        println!(
            "  {what}, {micros} us: {}/s, {} rows for {rate}/s",
            max_updates_per_second(micros),
            buckets_needed(rate, micros)
        );
    }
}
// ANCHOR_END: main

#[cfg(test)]
mod tests;
