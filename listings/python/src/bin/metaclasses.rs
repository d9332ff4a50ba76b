//! 1.2 Metaclasses, the Rust way: `#[derive(Table)]` reads a struct
//! declaration at compile time and writes its table schema, the job an ORM
//! metaclass does when a Python `class` statement runs.
//!
//! The derive lives in the `table_derive` proc-macro crate; the `Table`
//! trait and `Column` struct it implements live here, and the generated code
//! names them unqualified. Semantics (enforced by the derive, as compile
//! errors): named fields only, field order is column order, exactly one
//! `#[table(primary_key)]` field which is not an `Option`, `Option<T>` makes
//! a column nullable, and the supported types are i16, i32, i64, f32, f64,
//! bool and String. The table name is `#[table(name = "...")]` or the struct
//! name in snake_case.
//!
//! Python's metaclass also keeps a registry of every model class. A Rust
//! crate has no code that runs at load time, so the registry here is an
//! explicit list: every table the program knows is named in one place.

use table_derive::Table;

// ANCHOR: trait
/// One column, as the derive describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub sql_type: &'static str,
    pub nullable: bool,
    pub primary_key: bool,
}

/// What `#[derive(Table)]` implements: all of it computed at compile time.
pub trait Table {
    const NAME: &'static str;
    fn columns() -> &'static [Column];
    fn create_table_sql() -> &'static str;

    /// The key column; `None` only for a hand-written impl that forgot one.
    fn primary_key() -> Option<&'static Column> {
        Self::columns().iter().find(|c| c.primary_key)
    }
}
// ANCHOR_END: trait

// ANCHOR: models
#[derive(Table)]
#[table(name = "users")]
pub struct User {
    #[table(primary_key)]
    pub id: i64,
    pub email: String,
    pub age: Option<i32>,
}

/// No `name` attribute: the table is the struct name in snake_case.
#[derive(Table)]
pub struct InvoiceLine {
    #[table(primary_key)]
    pub id: i64,
    pub total_cents: i64,
    pub paid: bool,
}
// ANCHOR_END: models

// ANCHOR: expansion
/// What the derive writes for `User`, by hand. The tests check that the two
/// agree, so this is a faithful picture of the generated code.
pub struct HandWrittenUser;

impl Table for HandWrittenUser {
    const NAME: &'static str = "users";

    fn columns() -> &'static [Column] {
        const COLUMNS: &[Column] = &[
            Column {
                name: "id",
                sql_type: "BIGINT",
                nullable: false,
                primary_key: true,
            },
            Column {
                name: "email",
                sql_type: "TEXT",
                nullable: false,
                primary_key: false,
            },
            Column {
                name: "age",
                sql_type: "INTEGER",
                nullable: true,
                primary_key: false,
            },
        ];
        COLUMNS
    }

    fn create_table_sql() -> &'static str {
        "CREATE TABLE users (id BIGINT PRIMARY KEY, \
         email TEXT NOT NULL, age INTEGER)"
    }
}
// ANCHOR_END: expansion

// ANCHOR: registry
/// A table's name and the function that returns its DDL.
pub type TableEntry = (&'static str, fn() -> &'static str);

/// The registry a metaclass would fill as classes are defined, written out.
pub const REGISTRY: &[TableEntry] = &[
    (User::NAME, User::create_table_sql),
    (InvoiceLine::NAME, InvoiceLine::create_table_sql),
];

/// Generic over any table: the trait is the "class", the impl its schema.
pub fn describe<T: Table>() -> String {
    let columns: Vec<String> = T::columns()
        .iter()
        .map(|c| {
            let flag = match (c.primary_key, c.nullable) {
                (true, _) => " (primary key)",
                (false, true) => " (nullable)",
                (false, false) => "",
            };
            format!("{}: {}{}", c.name, c.sql_type, flag)
        })
        .collect();
    format!("{} -> {}", T::NAME, columns.join(", "))
}
// ANCHOR_END: registry

// ANCHOR: main
fn main() {
    println!("{}", describe::<User>());
    println!("{}", describe::<InvoiceLine>());
    for (name, create_table_sql) in REGISTRY {
        println!("{name}: {}", create_table_sql());
    }
    let key = User::primary_key().map_or("none", |c| c.name);
    println!("primary key of {}: {key}", User::NAME);
    let user = User {
        id: 1,
        email: "ada@example.com".into(),
        age: None,
    };
    println!(
        "a User is still a plain struct: id={} email={} age={:?}",
        user.id, user.email, user.age
    );
}
// ANCHOR_END: main

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_sql_for_users() {
        assert_eq!(
            User::create_table_sql(),
            "CREATE TABLE users (id BIGINT PRIMARY KEY, email TEXT NOT NULL, age INTEGER)"
        );
    }

    #[test]
    fn default_table_name_and_types() {
        assert_eq!(InvoiceLine::NAME, "invoice_line");
        assert_eq!(
            InvoiceLine::create_table_sql(),
            "CREATE TABLE invoice_line (id BIGINT PRIMARY KEY, total_cents BIGINT NOT NULL, \
             paid BOOLEAN NOT NULL)"
        );
    }

    #[test]
    fn columns_follow_field_order() {
        let names: Vec<&str> = User::columns().iter().map(|c| c.name).collect();
        assert_eq!(names, ["id", "email", "age"]);
    }

    #[test]
    fn exactly_one_primary_key_and_option_is_nullable() {
        let keys: Vec<&str> = User::columns()
            .iter()
            .filter(|c| c.primary_key)
            .map(|c| c.name)
            .collect();
        assert_eq!(keys, ["id"]);
        assert_eq!(User::primary_key().map(|c| c.name), Some("id"));
        let nullable: Vec<&str> = User::columns()
            .iter()
            .filter(|c| c.nullable)
            .map(|c| c.name)
            .collect();
        assert_eq!(nullable, ["age"]);
    }

    #[test]
    fn derive_matches_the_hand_written_expansion() {
        assert_eq!(User::NAME, HandWrittenUser::NAME);
        assert_eq!(User::columns(), HandWrittenUser::columns());
        assert_eq!(
            User::create_table_sql(),
            HandWrittenUser::create_table_sql()
        );
    }

    #[test]
    fn every_supported_type_and_raw_identifiers() {
        #[derive(Table)]
        #[allow(dead_code)]
        struct Everything {
            #[table(primary_key)]
            small: i16,
            int: i32,
            real: f32,
            double: Option<f64>,
            r#type: String,
        }
        assert_eq!(
            Everything::create_table_sql(),
            "CREATE TABLE everything (small SMALLINT PRIMARY KEY, int INTEGER NOT NULL, \
             real REAL NOT NULL, double DOUBLE PRECISION, type TEXT NOT NULL)"
        );
    }

    #[test]
    fn registry_names_every_table_once() {
        let names: Vec<&str> = REGISTRY.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, ["users", "invoice_line"]);
        assert!(REGISTRY.iter().all(|(name, sql)| {
            sql().starts_with(&format!("CREATE TABLE {name} ("))
        }));
    }

    #[test]
    fn describe_marks_key_and_nullable_columns() {
        assert_eq!(
            describe::<User>(),
            "users -> id: BIGINT (primary key), email: TEXT, age: INTEGER (nullable)"
        );
    }
}
