//! Keyset pagination against OFFSET, timed on the 200,000 orders of 2.6
//! (`orm_query_plans`), on the PostgreSQL server in `DATABASE_URL`.
//!
//! Each call fetches one page of 20 ids in id order, `rows skipped` rows
//! into the table:
//! - `offset`: `ORDER BY id LIMIT 20 OFFSET $n`, which reads and discards
//!   the `n` rows before the page;
//! - `keyset`: `WHERE id > $last ORDER BY id LIMIT 20`, which descends the
//!   primary-key index straight to the page.
//!
//! A call is a whole round trip over loopback (prepare, bind, execute,
//! fetch), as an application sees it. Before timing, the two are checked
//! to return the same ids at every depth. The table lives in a scratch
//! schema dropped at the end.
//!
//! Run: `cargo xtask bench orm_pagination` (needs PostgreSQL).

#[allow(dead_code)]
#[path = "../../architecture/src/bin/orm_query_plans.rs"]
mod orm_query_plans;

use std::cell::RefCell;

use benches::Harness;
use orm_query_plans::{Lab, page_after, page_by_offset};

const PAGE: i64 = 20;
const DEPTHS: [i64; 4] = [0, 10_000, 100_000, 199_980];

fn main() {
    let db = support::pg::connect_or_exit("orm_pagination");
    let lab = RefCell::new(Lab::open(db).expect("seed the orders table"));
    same_pages_both_ways(&lab);
    let mut h = Harness::new("orm_pagination", "rows skipped").samples(30);
    for depth in DEPTHS {
        let lab = &lab;
        h.bench("offset", depth, move || {
            page_by_offset(&mut lab.borrow_mut().db, depth / PAGE, PAGE)
                .expect("offset page")
        });
        h.bench("keyset", depth, move || {
            page_after(&mut lab.borrow_mut().db, depth, PAGE)
                .expect("keyset page")
        });
    }
    h.run();
    h.print_table();
    h.ratios_at("offset", "keyset", &DEPTHS);
}

/// The timings compare nothing unless both ways return the same page.
fn same_pages_both_ways(lab: &RefCell<Lab>) {
    let db = &mut lab.borrow_mut().db;
    for depth in DEPTHS {
        let offset = page_by_offset(db, depth / PAGE, PAGE).expect("offset");
        let keyset = page_after(db, depth, PAGE).expect("keyset");
        assert_eq!(offset, keyset, "different pages at {depth}");
        assert_eq!(offset.len(), PAGE as usize);
    }
}
