//! Who a proactive message goes to: the query language read over
//! customers, and over the assets they own when the query names assets,
//! instead of over tickets. A customer with no ticket at all is found by
//! their fields, organisation and machines.

use rusqlite::types::Value as Sql;
use serde::Serialize;

use super::search::SearchContext;
use super::search_sql::Mode;
use super::Store;
use crate::error::Result;
use crate::fields::Entity;
use crate::query::{Filter, Query};

/// One recipient: a customer, and the asset the message is about when
/// the query names assets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Recipient {
    pub customer: i64,
    pub asset: Option<i64>,
}

impl Store {
    /// Customers (or customer and asset pairs) the query matches, by
    /// customer then asset number.
    ///
    /// `customer.` and `org.` terms and `org:` read the customer's file;
    /// `asset:` and `asset.` terms make the result one row per matching
    /// asset the customer owns (theirs, or their organisation's when the
    /// asset names no person); every other term (state, tags, words…)
    /// reads tickets: the customer has a ticket that matches them all.
    pub fn audience(&self, q: &Query, ctx: &SearchContext) -> Result<Vec<Recipient>> {
        let mut clauses: Vec<String> = Vec::new();
        let mut params: Vec<Sql> = Vec::new();
        let mut ticket_terms = Query {
            terms: Vec::new(),
            sort: q.sort,
        };
        let mut by_asset = false;
        for term in &q.terms {
            let sql = match &term.filter {
                Filter::Customer(id) => {
                    params.push((*id).into());
                    "c.id = ?".to_string()
                }
                Filter::Org(v) => match self.org_ids(v, &mut params) {
                    None => "c.org_id IS NULL".into(),
                    // Not NULL first, so that `-org:x` keeps those without one.
                    Some(ids) => format!("(c.org_id IS NOT NULL AND c.org_id IN ({ids}))"),
                },
                Filter::Asset(v) if v.eq_ignore_ascii_case("none") => {
                    "NOT EXISTS (SELECT 1 FROM assets x WHERE x.customer_id = c.id
                       OR (x.customer_id IS NULL AND x.org_id = c.org_id))"
                        .into()
                }
                Filter::Asset(v) if v.eq_ignore_ascii_case("any") => {
                    by_asset = true;
                    "a.id IS NOT NULL".into()
                }
                Filter::Asset(v) => {
                    by_asset = true;
                    format!("a.id IN ({})", self.asset_ids(v, &mut params))
                }
                Filter::Field {
                    entity,
                    name,
                    op,
                    value,
                } if *entity != Entity::Ticket => {
                    let owners =
                        self.field_owners(*entity, name, *op, value, ctx.now, &mut params)?;
                    match entity {
                        Entity::Customer => format!("c.id IN ({owners})"),
                        Entity::Org => {
                            format!("(c.org_id IS NOT NULL AND c.org_id IN ({owners}))")
                        }
                        _ => {
                            by_asset = true;
                            format!("a.id IN ({owners})")
                        }
                    }
                }
                _ => {
                    ticket_terms.terms.push(term.clone());
                    continue;
                }
            };
            clauses.push(if term.negated {
                format!("NOT ({sql})")
            } else {
                sql
            });
        }
        if !ticket_terms.terms.is_empty() {
            let c = self.compile_with(&ticket_terms, ctx, Mode::Count)?;
            clauses.push(format!(
                "c.id IN (SELECT t.customer_id FROM tickets t WHERE {})",
                c.where_sql
            ));
            params.extend(c.params);
        }
        let where_sql = if clauses.is_empty() {
            "1".to_string()
        } else {
            clauses.join(" AND ")
        };
        let sql = if by_asset {
            format!(
                "SELECT c.id, a.id FROM customers c
                 JOIN assets a ON a.customer_id = c.id
                   OR (a.customer_id IS NULL AND a.org_id = c.org_id)
                 WHERE {where_sql} ORDER BY c.id, a.id"
            )
        } else {
            format!("SELECT c.id, NULL FROM customers c WHERE {where_sql} ORDER BY c.id")
        };
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params), |r| {
                Ok(Recipient {
                    customer: r.get(0)?,
                    asset: r.get(1)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::IdentityKind;
    use crate::store::{AssetInput, Settings};

    fn settings() -> Settings {
        let due: crate::fields::FieldDef =
            toml::from_str("on = \"asset\"\nname = \"service_due\"\ntype = \"date\"").unwrap();
        let tier: crate::fields::FieldDef = toml::from_str(
            "on = \"customer\"\nname = \"tier\"\ntype = \"choice\"\nchoices = [\"gold\", \"silver\"]",
        )
        .unwrap();
        Settings {
            fields: crate::fields::Fields::new(vec![due, tier]).unwrap(),
            ..Settings::default()
        }
    }

    /// Asset terms give one row per machine owned (an organisation's
    /// machine reaches its people); customer terms need no ticket.
    #[test]
    fn customers_and_their_machines() {
        let mut store = Store::open_in_memory(settings()).unwrap();
        let tx = store.transaction().unwrap();
        let ann = tx
            .create_customer("Ann", &[(IdentityKind::Phone, "+14155550101")])
            .unwrap();
        let bob = tx
            .create_customer("Bob", &[(IdentityKind::Email, "bob@acme.example")])
            .unwrap();
        let org = tx.create_org("Acme", None, "t").unwrap();
        tx.set_customer_org(bob, Some(org), "t").unwrap();
        let due = |when: &str| crate::fields::Value::Date(when.parse().unwrap());
        let machine = |customer: Option<i64>, org: Option<i64>, serial: &str, when: &str| {
            let a = tx
                .create_asset(
                    &AssetInput {
                        customer_id: customer,
                        org_id: org,
                        model: Some("VMC".into()),
                        serial: Some(serial.into()),
                        ..Default::default()
                    },
                    "t",
                )
                .unwrap();
            tx.set_field(Entity::Asset, a, "service_due", Some(&due(when)), "t")
                .unwrap();
            a
        };
        let a1 = machine(Some(ann), None, "S1", "2026-12-05");
        let _a2 = machine(Some(ann), None, "S2", "2027-06-01");
        let a3 = machine(None, Some(org), "S3", "2026-12-03");
        let gold = crate::fields::Value::Text("gold".into());
        tx.set_field(Entity::Customer, ann, "tier", Some(&gold), "t")
            .unwrap();
        tx.commit().unwrap();
        let ctx = SearchContext {
            me: String::new(),
            // 2026-12-01 12:00 UTC
            now: 1_796_126_400,
        };
        let q = |s: &str| {
            store
                .audience(&crate::query::parse(s).unwrap(), &ctx)
                .unwrap()
        };
        assert_eq!(
            q("asset.service_due<7d"),
            [
                Recipient {
                    customer: ann,
                    asset: Some(a1)
                },
                Recipient {
                    customer: bob,
                    asset: Some(a3)
                }
            ]
        );
        assert_eq!(q("customer.tier:gold").len(), 1);
        assert_eq!(q("org:acme")[0].customer, bob);
        assert_eq!(q("-org:acme")[0].customer, ann);
        assert_eq!(q("asset.service_due<7d -customer.tier:gold").len(), 1);
        // Ticket terms: nobody has a ticket yet.
        assert!(q("tag:vip").is_empty());
        assert_eq!(q("").len(), 2);
    }
}
