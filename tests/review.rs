//! Quality review through the real binary on the demo inbox: the sample
//! is reproducible, every agent with solved tickets gets up to N, scores
//! are checked against the rubric and add up per agent.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

struct Env {
    _dir: tempfile::TempDir,
    db: PathBuf,
    cfg: PathBuf,
}

fn demo() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_echodesk"))
        .args(["demo", "--build-only", "--tickets", "400", "--dir"])
        .arg(dir.path().join("demo"))
        .env("XDG_CONFIG_HOME", dir.path().join("none"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, "").unwrap();
    Env {
        db: dir.path().join("demo/demo.db"),
        cfg,
        _dir: dir,
    }
}

fn run(env: &Env, db: &Path, agent: &str, args: &[&str]) -> (bool, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_echodesk"))
        .arg("--config")
        .arg(&env.cfg)
        .arg("--db")
        .arg(db)
        .args(["--agent", agent, "--json"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn sampled(v: &Value) -> Vec<(String, Vec<i64>)> {
    v["agents"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(a, t)| {
            (
                a.clone(),
                t.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_i64().unwrap())
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn the_sample_is_reproducible_and_scores_add_up() {
    let env = demo();
    let copy = env.db.with_file_name("copy.db");
    std::fs::copy(&env.db, &copy).unwrap();
    let args = [
        "review",
        "sample",
        "--last",
        "12w",
        "--per-agent",
        "3",
        "--seed",
        "7",
    ];
    let (ok, first, err) = run(&env, &env.db, "lead", &args);
    assert!(ok, "{err}");
    let picked = sampled(&first);
    // Everyone who solved tickets (in the demo: alice, bob, chen, yuki).
    let (ok, all, _) = run(
        &env,
        &copy,
        "lead",
        &[
            "review",
            "sample",
            "--last",
            "12w",
            "--per-agent",
            "100000",
            "--seed",
            "7",
        ],
    );
    assert!(ok);
    let everything = sampled(&all);
    assert_eq!(
        picked.iter().map(|(a, _)| a).collect::<Vec<_>>(),
        everything.iter().map(|(a, _)| a).collect::<Vec<_>>()
    );
    assert!(picked.len() >= 3, "{first}");
    for ((agent, some), (_, every)) in picked.iter().zip(&everything) {
        assert_eq!(some.len(), every.len().min(3), "{agent}");
        assert!(
            some.iter().all(|t| every.contains(t)),
            "{agent}: {some:?} ⊄ {every:?}"
        );
    }
    assert_eq!(
        first["added"].as_u64(),
        Some(picked.iter().map(|(_, t)| t.len() as u64).sum())
    );
    // Again with the same seed: the same sample, no new tasks.
    let (_, again, _) = run(&env, &env.db, "lead", &args);
    assert_eq!(sampled(&again), picked);
    assert_eq!(again["added"], 0);
    // Another seed picks otherwise (on a fresh copy).
    let copy2 = env.db.with_file_name("copy2.db");
    std::fs::copy(&copy, &copy2).unwrap();
    let (_, other, _) = run(
        &env,
        &copy2,
        "lead",
        &[
            "review",
            "sample",
            "--last",
            "12w",
            "--per-agent",
            "3",
            "--seed",
            "8",
        ],
    );
    assert_ne!(sampled(&other), picked);

    // Score one fully, one in part; a bad criterion or value is refused.
    let (_, list, err) = run(&env, &env.db, "lead", &["review", "list"]);
    let reviews = list.as_array().unwrap();
    assert!(reviews.len() >= 2, "{list} {err}");
    let id = reviews[0]["id"].to_string();
    let agent = reviews[0]["agent"].as_str().unwrap().to_string();
    let (ok, _, err) = run(&env, &env.db, "lead", &["review", "score", &id, "tone=9"]);
    assert!(!ok && err.contains("tone is scored 1 to 5"), "{err}");
    let (ok, _, err) = run(&env, &env.db, "lead", &["review", "score", &id, "speed=3"]);
    assert!(!ok && err.contains("no criterion `speed`"), "{err}");
    let (ok, r, err) = run(
        &env,
        &env.db,
        "lead",
        &[
            "review",
            "score",
            &id,
            "greeting=5",
            "correctness=4",
            "tone=5",
            "resolution=4",
            "follow-up=3",
            "--comment",
            "clear, but no follow-up call",
        ],
    );
    assert!(ok, "{err}");
    // (1·1 + 2·0.75 + 1·1 + 2·0.75 + 1·0.5) / 7
    assert!(
        (r["score"].as_f64().unwrap() - 5.5 / 7.0).abs() < 1e-9,
        "{r}"
    );
    let partial = reviews[1]["id"].to_string();
    let (_, r, _) = run(
        &env,
        &env.db,
        "lead",
        &["review", "score", &partial, "tone=2"],
    );
    assert!(r["score"].is_null(), "not every criterion yet: {r}");

    // The agent sees their own reviews; the stats per agent and in all.
    let (_, mine, _) = run(&env, &env.db, &agent, &["review", "list", "--mine"]);
    assert!(mine
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["agent"] == agent.as_str()));
    assert!(mine
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["comment"] == "clear, but no follow-up call"));
    let (_, stats, _) = run(&env, &env.db, "lead", &["review", "stats"]);
    let row = stats
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["agent"] == agent.as_str())
        .unwrap();
    assert_eq!(row["scored"], 1, "{row}");
    assert_eq!(row["criteria"]["greeting"], 5.0, "{row}");
    let all_row = stats
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["agent"] == "all")
        .unwrap();
    assert_eq!(all_row["sampled"].as_u64(), first["added"].as_u64());
}
