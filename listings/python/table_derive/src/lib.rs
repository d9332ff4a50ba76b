//! `#[derive(Table)]`: turns a struct into a table schema at compile time,
//! the Rust analogue of an ORM metaclass (chapter 1.2).
//!
//! A Python metaclass runs when the `class` statement executes and can read
//! the class body; this derive runs when the crate compiles and reads the
//! struct's tokens. Both turn a declaration into a schema, and both reject a
//! bad declaration before any instance exists. The derive does it earlier:
//! the mistake is a compile error, pointing at the offending field.
//!
//! Semantics:
//! - Only structs with named fields, without generic parameters. Field order
//!   is column order.
//! - Table name: `#[table(name = "users")]` on the struct, otherwise the
//!   struct's name in snake_case. It must be a plain SQL identifier
//!   (`[A-Za-z_][A-Za-z0-9_]*`), since it is spliced into DDL.
//! - Column types: `i16` SMALLINT, `i32` INTEGER, `i64` BIGINT, `f32` REAL,
//!   `f64` DOUBLE PRECISION, `bool` BOOLEAN, `String` TEXT. `Option<T>` of
//!   one of those makes the column nullable; every other column is
//!   `NOT NULL`. Anything else (`u64`, `Vec<u8>`, `Option<Option<T>>`) is an
//!   error: PostgreSQL has no unsigned integers, and a silent fallback to
//!   TEXT would hide the mistake.
//! - Exactly one field carries `#[table(primary_key)]`, and it is not an
//!   `Option`. Composite keys are out of scope.
//! - The generated impl names `Table` and `Column` unqualified, so the crate
//!   that derives must have both in scope (the listing defines them).
//! - Every mistake is reported with `syn::Error::into_compile_error`, all of
//!   them at once where possible; the macro never panics.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::quote;
use syn::ext::IdentExt;
use syn::{
    Attribute, Data, DeriveInput, Field, Fields, GenericArgument, LitStr,
    PathArguments, Type,
};

// ANCHOR: entry
/// The entry point rustc calls for `#[derive(Table)]`.
#[proc_macro_derive(Table, attributes(table))]
pub fn derive_table(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as DeriveInput);
    derive(&input).into()
}

/// The impl, or the compile errors that replace it. Kept apart from the
/// `proc_macro` entry point so that tests can call it.
fn derive(input: &DeriveInput) -> TokenStream2 {
    expand(input).unwrap_or_else(syn::Error::into_compile_error)
}
// ANCHOR_END: entry

/// One column as the schema sees it.
#[derive(Debug, PartialEq)]
struct ColumnSpec {
    name: String,
    sql_type: &'static str,
    nullable: bool,
    primary_key: bool,
}

impl ColumnSpec {
    fn ddl(&self) -> String {
        let constraint = match (self.primary_key, self.nullable) {
            (true, _) => " PRIMARY KEY",
            (false, false) => " NOT NULL",
            (false, true) => "",
        };
        format!("{} {}{}", self.name, self.sql_type, constraint)
    }
}

/// What the derive learns from a struct: the table and its columns in order.
#[derive(Debug)]
struct Schema {
    table: String,
    columns: Vec<ColumnSpec>,
}

impl Schema {
    /// Computed here, at compile time, and emitted as a string literal.
    fn create_table_sql(&self) -> String {
        let columns: Vec<String> =
            self.columns.iter().map(ColumnSpec::ddl).collect();
        format!("CREATE TABLE {} ({})", self.table, columns.join(", "))
    }
}

// ANCHOR: expand
fn expand(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let schema = schema_of(input)?;
    let ident = &input.ident;
    let table = &schema.table;
    let sql = schema.create_table_sql();
    let columns = schema.columns.iter().map(|c| {
        let (name, sql_type, nullable, primary_key) =
            (&c.name, c.sql_type, c.nullable, c.primary_key);
        quote! {
            Column {
                name: #name,
                sql_type: #sql_type,
                nullable: #nullable,
                primary_key: #primary_key,
            }
        }
    });
    Ok(quote! {
        impl Table for #ident {
            const NAME: &'static str = #table;

            fn columns() -> &'static [Column] {
                const COLUMNS: &[Column] = &[#(#columns),*];
                COLUMNS
            }

            fn create_table_sql() -> &'static str {
                #sql
            }
        }
    })
}
// ANCHOR_END: expand

/// Reads the whole declaration, collecting every field error before giving
/// up, so that one compile shows all of them.
fn schema_of(input: &DeriveInput) -> syn::Result<Schema> {
    let fields = named_fields(input)?;
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "`Table` cannot be derived for a generic struct: every column needs a concrete SQL type",
        ));
    }
    let table = table_name(input)?;

    let mut columns = Vec::new();
    let mut errors: Option<syn::Error> = None;
    for field in &fields {
        match column_of(field) {
            Ok(column) => columns.push(column),
            Err(e) => push_error(&mut errors, e),
        }
    }
    if let Some(e) = errors {
        return Err(e);
    }
    check_one_primary_key(input, &fields, &columns)?;
    Ok(Schema { table, columns })
}

fn push_error(errors: &mut Option<syn::Error>, error: syn::Error) {
    match errors {
        Some(all) => all.combine(error),
        None => *errors = Some(error),
    }
}

fn named_fields(input: &DeriveInput) -> syn::Result<Vec<&Field>> {
    match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) if !named.named.is_empty() => {
                Ok(named.named.iter().collect())
            }
            Fields::Named(_) | Fields::Unit => Err(syn::Error::new_spanned(
                &input.ident,
                "`Table` needs at least one named field: a table without columns cannot be created",
            )),
            Fields::Unnamed(unnamed) => Err(syn::Error::new_spanned(
                unnamed,
                "`Table` needs named fields: a tuple struct has no column names",
            )),
        },
        Data::Enum(data) => Err(syn::Error::new(
            data.enum_token.span,
            "`Table` can only be derived for a struct, not an enum",
        )),
        Data::Union(data) => Err(syn::Error::new(
            data.union_token.span,
            "`Table` can only be derived for a struct, not a union",
        )),
    }
}

/// `#[table(name = "...")]` if present, else the struct name in snake_case.
fn table_name(input: &DeriveInput) -> syn::Result<String> {
    let mut name: Option<LitStr> = None;
    for attr in table_attributes(&input.attrs) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                name = Some(meta.value()?.parse()?);
                Ok(())
            } else {
                Err(meta.error("unknown `table` attribute on a struct; expected `name = \"...\"`"))
            }
        })?;
    }
    match name {
        None => Ok(snake_case(&input.ident.unraw().to_string())),
        Some(lit) if is_sql_identifier(&lit.value()) => Ok(lit.value()),
        Some(lit) => Err(syn::Error::new_spanned(
            lit,
            "table name must be a plain SQL identifier: letters, digits and `_`, not starting with a digit",
        )),
    }
}

fn table_attributes(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("table"))
}

fn is_sql_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `OrderLine` -> `order_line`.
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn column_of(field: &Field) -> syn::Result<ColumnSpec> {
    let primary_key = is_primary_key(field)?;
    let (sql_type, nullable) = column_type(&field.ty)?;
    if primary_key && nullable {
        return Err(syn::Error::new_spanned(
            &field.ty,
            "the primary key cannot be an `Option`: a primary key column is never NULL",
        ));
    }
    let name = match &field.ident {
        Some(ident) => ident.unraw().to_string(),
        None => {
            return Err(syn::Error::new_spanned(
                field,
                "`Table` needs named fields",
            ));
        }
    };
    Ok(ColumnSpec {
        name,
        sql_type,
        nullable,
        primary_key,
    })
}

/// `#[table(primary_key)]` on a field.
fn is_primary_key(field: &Field) -> syn::Result<bool> {
    let mut primary_key = false;
    for attr in table_attributes(&field.attrs) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("primary_key") {
                primary_key = true;
                Ok(())
            } else {
                Err(meta.error("unknown `table` attribute on a field; expected `primary_key`"))
            }
        })?;
    }
    Ok(primary_key)
}

fn check_one_primary_key(
    input: &DeriveInput,
    fields: &[&Field],
    columns: &[ColumnSpec],
) -> syn::Result<()> {
    let keys: Vec<usize> = (0..columns.len())
        .filter(|&i| columns[i].primary_key)
        .collect();
    match keys.as_slice() {
        [_] => Ok(()),
        [] => Err(syn::Error::new_spanned(
            &input.ident,
            "no primary key: mark exactly one field with `#[table(primary_key)]`",
        )),
        [_, second, ..] => Err(syn::Error::new_spanned(
            fields[*second],
            "a second `#[table(primary_key)]`: composite primary keys are not supported",
        )),
    }
}

/// The SQL type of a field and whether the column is nullable.
fn column_type(ty: &Type) -> syn::Result<(&'static str, bool)> {
    let ty = ungrouped(ty);
    match option_inner(ty) {
        Some(inner) if option_inner(ungrouped(inner)).is_some() => {
            Err(syn::Error::new_spanned(
                ty,
                "`Option<Option<T>>` has no SQL meaning: a column is NULL or it is not",
            ))
        }
        Some(inner) => Ok((scalar_sql_type(ungrouped(inner))?, true)),
        None => Ok((scalar_sql_type(ty)?, false)),
    }
}

/// Types coming out of `macro_rules!` expansions may be wrapped in invisible
/// groups or parentheses; look through them.
fn ungrouped(ty: &Type) -> &Type {
    match ty {
        Type::Group(group) => ungrouped(&group.elem),
        Type::Paren(paren) => ungrouped(&paren.elem),
        _ => ty,
    }
}

/// `T` if `ty` is `Option<T>` (also spelled `std::option::Option<T>`).
fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    if path.qself.is_some() {
        return None;
    }
    let last = path.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.iter().collect::<Vec<_>>().as_slice() {
        [GenericArgument::Type(inner)] => Some(inner),
        _ => None,
    }
}

fn scalar_sql_type(ty: &Type) -> syn::Result<&'static str> {
    let ident = match ty {
        Type::Path(path) if path.qself.is_none() => {
            path.path.get_ident().map(ToString::to_string)
        }
        _ => None,
    };
    let sql_type = match ident.as_deref() {
        Some("i16") => "SMALLINT",
        Some("i32") => "INTEGER",
        Some("i64") => "BIGINT",
        Some("f32") => "REAL",
        Some("f64") => "DOUBLE PRECISION",
        Some("bool") => "BOOLEAN",
        Some("String") => "TEXT",
        _ => {
            return Err(syn::Error::new_spanned(
                ty,
                "unsupported column type: `Table` maps i16, i32, i64, f32, f64, bool, String \
                 and Option<T> of those",
            ));
        }
    };
    Ok(sql_type)
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn schema(input: DeriveInput) -> Schema {
        match schema_of(&input) {
            Ok(schema) => schema,
            Err(e) => panic!("expected a schema, got the error: {e}"),
        }
    }

    fn error(input: DeriveInput) -> String {
        match schema_of(&input) {
            Ok(schema) => panic!("expected an error, got {schema:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn user() -> DeriveInput {
        parse_quote! {
            #[table(name = "users")]
            struct User {
                #[table(primary_key)]
                id: i64,
                email: String,
                age: Option<i32>,
                active: bool,
            }
        }
    }

    #[test]
    fn generates_create_table_sql_in_field_order() {
        assert_eq!(
            schema(user()).create_table_sql(),
            "CREATE TABLE users (id BIGINT PRIMARY KEY, email TEXT NOT NULL, \
             age INTEGER, active BOOLEAN NOT NULL)"
        );
    }

    #[test]
    fn columns_keep_declaration_order_and_mark_the_primary_key() {
        let columns = schema(user()).columns;
        let names: Vec<&str> =
            columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["id", "email", "age", "active"]);
        let keys: Vec<&str> = columns
            .iter()
            .filter(|c| c.primary_key)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(keys, ["id"]);
        assert_eq!(
            columns[2],
            ColumnSpec {
                name: "age".into(),
                sql_type: "INTEGER",
                nullable: true,
                primary_key: false
            }
        );
    }

    #[test]
    fn every_supported_type_maps_to_its_sql_type() {
        let s = schema(parse_quote! {
            struct Sample {
                #[table(primary_key)] a: i16, b: i32, c: i64, d: f32, e: f64, f: bool,
                g: String, h: std::option::Option<f64>, r#type: String,
            }
        });
        let types: Vec<&str> = s.columns.iter().map(|c| c.sql_type).collect();
        assert_eq!(
            types,
            [
                "SMALLINT",
                "INTEGER",
                "BIGINT",
                "REAL",
                "DOUBLE PRECISION",
                "BOOLEAN",
                "TEXT",
                "DOUBLE PRECISION",
                "TEXT"
            ]
        );
        assert!(s.columns[7].nullable);
        assert_eq!(s.columns[8].name, "type", "raw identifiers lose their r#");
    }

    #[test]
    fn default_table_name_is_the_struct_name_in_snake_case() {
        let s = schema(parse_quote! {
            struct OrderLine { #[table(primary_key)] id: i64 }
        });
        assert_eq!(s.table, "order_line");
        assert_eq!(
            s.create_table_sql(),
            "CREATE TABLE order_line (id BIGINT PRIMARY KEY)"
        );
    }

    #[test]
    fn expansion_implements_the_trait_with_the_sql_as_a_literal() {
        let tokens = derive(&user()).to_string();
        assert!(tokens.contains("impl Table for User"), "{tokens}");
        assert!(
            tokens.contains("const NAME : & 'static str = \"users\""),
            "{tokens}"
        );
        assert!(
            tokens.contains("\"CREATE TABLE users (id BIGINT PRIMARY KEY"),
            "{tokens}"
        );
        assert!(!tokens.contains("compile_error"), "{tokens}");
    }

    #[test]
    fn a_tuple_struct_becomes_a_compile_error_not_a_panic() {
        let input: DeriveInput = parse_quote! { struct Pair(i64, String); };
        assert!(
            schema_of(&input)
                .is_err_and(|e| e.to_string().contains("tuple struct"))
        );
        let tokens = derive(&input).to_string();
        assert!(tokens.contains("compile_error"), "{tokens}");
        assert!(!tokens.contains("impl Table"), "{tokens}");
    }

    #[test]
    fn unsupported_types_are_rejected_all_at_once() {
        let input: DeriveInput = parse_quote! {
            struct Blob { #[table(primary_key)] id: u64, data: Vec<u8> }
        };
        let tokens = derive(&input).to_string();
        // Both fields are reported in one compile, not one error per build.
        assert_eq!(tokens.matches("compile_error").count(), 2, "{tokens}");
        assert!(tokens.contains("unsupported column type"), "{tokens}");
    }

    #[test]
    fn primary_key_must_exist_be_unique_and_not_null() {
        assert!(
            error(parse_quote! { struct A { id: i64 } })
                .contains("no primary key")
        );
        assert!(
            error(parse_quote! {
                struct B { #[table(primary_key)] a: i64, #[table(primary_key)] b: i64 }
            })
            .contains("second")
        );
        assert!(
            error(parse_quote! { struct C { #[table(primary_key)] id: Option<i64> } })
                .contains("cannot be an `Option`")
        );
    }

    #[test]
    fn other_shapes_are_rejected_with_a_reason() {
        assert!(error(parse_quote! { enum E { A } }).contains("not an enum"));
        assert!(
            error(parse_quote! { union U { a: i64 } }).contains("not a union")
        );
        assert!(
            error(parse_quote! { struct Unit; })
                .contains("at least one named field")
        );
        assert!(
            error(parse_quote! { struct Empty {} })
                .contains("at least one named field")
        );
        assert!(
            error(parse_quote! { struct G<T> { #[table(primary_key)] id: T } })
                .contains("generic")
        );
        assert!(
            error(
                parse_quote! { struct N { #[table(primary_key)] id: i64, x: Option<Option<i64>> } }
            )
            .contains("Option<Option<T>>")
        );
    }

    #[test]
    fn attributes_are_checked() {
        assert!(
            error(parse_quote! {
                struct A { #[table(primary)] id: i64 }
            })
            .contains("expected `primary_key`")
        );
        assert!(
            error(parse_quote! {
                #[table(title = "a")] struct B { #[table(primary_key)] id: i64 }
            })
            .contains("expected `name")
        );
        assert!(
            error(parse_quote! {
                #[table(name = "users; DROP TABLE x")] struct C { #[table(primary_key)] id: i64 }
            })
            .contains("plain SQL identifier")
        );
    }
}
