//! A parsed [`Query`] as SQL: the WHERE clause and its parameters, and
//! whether the full-text part can be answered by the index alone.

use rusqlite::types::Value;

use super::search::*;
use super::{fts, Store};
use crate::error::{Error, Result};
use crate::identity;
use crate::model::IdentityKind;
use crate::query::{Filter, Is, Query, Who};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Page,
    /// A page whose text terms match many tickets.
    PageDense,
    Count,
    /// A count of text terms with many hits combined with other filters.
    CountDense,
}

pub(super) struct Compiled {
    pub(super) where_sql: String,
    pub(super) params: Vec<Value>,
    /// Set when the query is nothing but positive text terms: the hit count
    /// can then come from the FTS index alone.
    pub(super) fts_only: Option<String>,
    /// The combined positive text expression, if any.
    pub(super) fts_text: Option<String>,
}

/// When hits² exceeds this many times the ticket count, a page walks the
/// ordered index instead of sorting the hits (measured in benches/store.rs).
pub(super) const DENSE_FACTOR: i64 = 12;

impl Store {
    pub(super) fn compile(&self, q: &Query, ctx: &SearchContext) -> Result<Compiled> {
        self.compile_with(q, ctx, Mode::Page)
    }

    pub(super) fn compile_with(
        &self,
        q: &Query,
        ctx: &SearchContext,
        mode: Mode,
    ) -> Result<Compiled> {
        let mut clauses: Vec<String> = Vec::new();
        let mut params: Vec<Value> = Vec::new();
        let wf = &self.settings.workflow;
        // Positive words and phrases become one MATCH (implicit AND over
        // the ticket's document): one index probe instead of one per word.
        let mut positive_text: Vec<String> = Vec::new();
        let mut other_terms = 0;
        for term in &q.terms {
            let phrase = match &term.filter {
                Filter::Word(w) => fts::phrase(w, true),
                Filter::Phrase(p) => fts::phrase(p, false),
                _ => {
                    other_terms += 1;
                    continue;
                }
            };
            match phrase {
                Some(p) if !term.negated => positive_text.push(p),
                Some(_) => other_terms += 1,
                // Dropping it would match every ticket: say so instead.
                None => {
                    let (Filter::Word(w) | Filter::Phrase(w)) = &term.filter else {
                        continue;
                    };
                    return Err(Error::invalid(
                        "search word",
                        w.clone(),
                        "has no letters, digits or emoji to search for (symbols and punctuation are not indexed); leave it out",
                    ));
                }
            }
        }
        if !positive_text.is_empty() {
            clauses.push(match mode {
                // Many hits: SQLite walks an index (the sort's, or the
                // filters') and each row is tested against the hit set the
                // caller made with `fts_hits`. A per-row MATCH probe would
                // re-run the whole FTS query for every row: far slower.
                Mode::PageDense | Mode::CountDense => "echodesk_hit(t.id)".into(),
                // Few hits: drive from the hit list.
                Mode::Page | Mode::Count => {
                    params.push(positive_text.join(" ").into());
                    "t.id IN (SELECT rowid FROM search.tickets_fts WHERE tickets_fts MATCH ?)"
                        .into()
                }
            });
        }
        for term in &q.terms {
            if !term.negated && matches!(term.filter, Filter::Word(_) | Filter::Phrase(_)) {
                continue;
            }
            let sql = match &term.filter {
                Filter::Id(id) => {
                    params.push((*id).into());
                    "t.id = ?".to_string()
                }
                Filter::State(s) => {
                    // A state no workflow has is a mistake in the query.
                    wf.check_state(s).map_err(|e| {
                        crate::error::Error::invalid("query", format!("state:{s}"), e.to_string())
                    })?;
                    params.push(s.clone().into());
                    "t.state = ?".into()
                }
                Filter::Assignee(Who::Nobody) => "t.assignee IS NULL".into(),
                Filter::Assignee(Who::Me) => {
                    params.push(ctx.me.clone().into());
                    "t.assignee = ?".into()
                }
                Filter::Assignee(Who::Agent(a)) => {
                    params.push(a.clone().into());
                    "t.assignee = ? COLLATE NOCASE".into()
                }
                Filter::Follower(Who::Nobody) => {
                    "t.id NOT IN (SELECT ticket_id FROM followers)".into()
                }
                Filter::Follower(who) => {
                    let name = match who {
                        Who::Me => ctx.me.clone(),
                        Who::Agent(a) => a.clone(),
                        Who::Nobody => String::new(),
                    };
                    params.push(name.into());
                    "t.id IN (SELECT ticket_id FROM followers WHERE follower = ? COLLATE NOCASE)"
                        .into()
                }
                Filter::Channel(c) => {
                    params.push(c.as_str().to_string().into());
                    "t.channel = ?".into()
                }
                // `tag:product/*`: every tag under the prefix.
                Filter::Tag(tag) if tag.ends_with('*') => {
                    let stem = tag.trim_end_matches('*');
                    let escaped = stem
                        .replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_");
                    params.push(format!("{escaped}%").into());
                    "t.id IN (SELECT ticket_id FROM ticket_tags WHERE tag LIKE ? ESCAPE '\\')".into()
                }
                Filter::Tag(tag) => {
                    params.push(tag.clone().into());
                    match mode {
                        // A correlated scalar subquery is probed per row
                        // of the ordered walk; EXISTS would become a join
                        // with a Bloom filter built over the whole tag.
                        Mode::Page | Mode::PageDense => "(SELECT 1 FROM ticket_tags g \
                            WHERE g.ticket_id = t.id AND g.tag = ?) IS NOT NULL"
                            .into(),
                        Mode::Count | Mode::CountDense => {
                            "t.id IN (SELECT ticket_id FROM ticket_tags WHERE tag = ?)".into()
                        }
                    }
                }
                Filter::From(v) => self.sender_clause(v, &mut params),
                Filter::Priority(p) => {
                    params.push(p.rank().into());
                    "t.priority = ?".into()
                }
                Filter::Customer(c) => {
                    params.push((*c).into());
                    "t.customer_id = ?".into()
                }
                Filter::Before(w) => {
                    params.push(w.resolve(ctx.now).into());
                    "t.updated_at < ?".into()
                }
                Filter::After(w) => {
                    params.push(w.resolve(ctx.now).into());
                    "t.updated_at >= ?".into()
                }
                Filter::CreatedBefore(w) => {
                    params.push(w.resolve(ctx.now).into());
                    "t.created_at < ?".into()
                }
                Filter::CreatedAfter(w) => {
                    params.push(w.resolve(ctx.now).into());
                    "t.created_at >= ?".into()
                }
                Filter::Is(Is::Open) | Filter::Is(Is::Closed) => {
                    let open = matches!(term.filter, Filter::Is(Is::Open));
                    let list = vec!["?"; wf.open_states.len().max(1)].join(", ");
                    if wf.open_states.is_empty() {
                        params.push(Value::Null);
                    }
                    for s in &wf.open_states {
                        params.push(s.clone().into());
                    }
                    // Unary + keeps the state index out of it: for a page,
                    // an IN list would force a sort of every open ticket,
                    // while the (updated_at, id) index yields pages in
                    // order. A dense text count wants the index: walking it
                    // and testing the hit set beats a row lookup per hit.
                    // A plain count keeps the +: counting through the index
                    // made the TUI's count worker slow its page loads
                    // (benches/tui.rs, key p99 2.7 → 7.6 ms).
                    let plus = if mode == Mode::CountDense {
                        ""
                    } else {
                        "+"
                    };
                    format!("{plus}t.state {}IN ({list})", if open { "" } else { "NOT " })
                }
                Filter::Is(Is::Snoozed) => {
                    params.push(ctx.now.into());
                    "coalesce(t.snoozed_until, 0) > ?".into()
                }
                Filter::Is(Is::Breached) => {
                    params.push(ctx.now.into());
                    params.push(ctx.now.into());
                    "((t.first_response_due IS NOT NULL AND coalesce(t.first_response_at, ?) > t.first_response_due)
                      OR (t.resolution_due IS NOT NULL AND coalesce(t.solved_at, ?) > t.resolution_due))"
                        .into()
                }
                Filter::Sla { within, secs } => {
                    // The next deadline still ahead: the first response if
                    // none yet, the resolution if not solved.
                    let next = "min(coalesce(CASE WHEN t.first_response_at IS NULL THEN t.first_response_due END,
                                              CASE WHEN t.solved_at IS NULL THEN t.resolution_due END),
                                     coalesce(CASE WHEN t.solved_at IS NULL THEN t.resolution_due END,
                                              CASE WHEN t.first_response_at IS NULL THEN t.first_response_due END))";
                    params.push(ctx.now.into());
                    params.push((ctx.now + secs).into());
                    if *within {
                        format!("({next} >= ? AND {next} < ?)")
                    } else {
                        format!("({next} >= ? AND {next} >= ?)")
                    }
                }
                Filter::Is(Is::Unassigned) => "t.assignee IS NULL".into(),
                Filter::Is(Is::Assigned) => "t.assignee IS NOT NULL".into(),
                Filter::Is(Is::Auto) => {
                    "EXISTS (SELECT 1 FROM messages m WHERE m.ticket_id = t.id AND m.auto_kind IS NOT NULL)".into()
                }
                Filter::Org(v) => self.org_clause(v, &mut params),
                Filter::Asset(v) => self.asset_clause(v, &mut params),
                Filter::Field {
                    entity,
                    name,
                    op,
                    value,
                } => self.field_clause(*entity, name, *op, value, ctx.now, &mut params)?,
                Filter::HasAttachment => "EXISTS (SELECT 1 FROM messages m JOIN attachments a ON a.message_id = m.id WHERE m.ticket_id = t.id)".into(),
                Filter::Word(w) => match fts::phrase(w, true) {
                    Some(p) => text_clause(p, &mut params),
                    None => continue,
                },
                Filter::Phrase(p) => match fts::phrase(p, false) {
                    Some(p) => text_clause(p, &mut params),
                    None => continue,
                },
            };
            clauses.push(if term.negated {
                format!("NOT ({sql})")
            } else {
                sql
            });
        }
        let where_sql = if clauses.is_empty() {
            "1".to_string()
        } else {
            clauses.join(" AND ")
        };
        let fts_text = (!positive_text.is_empty()).then(|| positive_text.join(" "));
        let fts_only = fts_text.clone().filter(|_| other_terms == 0);
        Ok(Compiled {
            where_sql,
            params,
            fts_only,
            fts_text,
        })
    }

    pub(super) fn sender_clause(&self, v: &str, params: &mut Vec<Value>) -> String {
        if let Some(domain) = v.strip_prefix('@') {
            // The value is a domain, not a pattern: `%` and `_` in it are
            // themselves (`from:@%` matched every email customer).
            let escaped = domain
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            params.push(format!("%@{escaped}").into());
            return "t.customer_id IN (SELECT customer_id FROM identities WHERE kind = 'email' AND value LIKE ? ESCAPE '\\')".into();
        }
        let kind = identity::guess_kind(v);
        let normalised = identity::normalise(kind, v, &self.settings.default_region)
            .unwrap_or_else(|_| v.to_string());
        params.push(normalised.into());
        match kind {
            IdentityKind::Email => "t.customer_id IN (SELECT customer_id FROM identities WHERE kind = 'email' AND value = ?)".into(),
            _ => "t.customer_id IN (SELECT customer_id FROM identities WHERE kind IN ('phone', 'fax') AND value = ?)".into(),
        }
    }
}

pub(super) fn text_clause(phrase: String, params: &mut Vec<Value>) -> String {
    params.push(phrase.into());
    "t.id IN (SELECT rowid FROM search.tickets_fts WHERE tickets_fts MATCH ?)".into()
}
