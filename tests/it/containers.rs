//! The container files cannot be run here (no Docker engine), so this keeps them honest: the
//! compose file is well-formed in the YAML it uses, each service has an image or a build, every
//! `LATCHKEY_*` variable of the compose file and the Dockerfile is a real configuration key with a
//! valid value, and Prometheus scrapes the address Latchkey serves its metrics on.

use std::collections::BTreeMap;

use figment::Figment;
use figment::providers::Serialized;
use latchkey::config::Config;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A node of the block-style YAML the compose file uses: `key: value` lines, nested by
/// indentation, and `- item` lists (kept as text).
#[derive(Debug, Default)]
struct Node {
    value: String,
    children: BTreeMap<String, Node>,
    items: Vec<String>,
}

fn parse_yaml(text: &str) -> Node {
    assert!(!text.contains('\t'), "YAML forbids tabs for indentation");
    let mut root = Node::default();
    let mut path: Vec<(usize, String)> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        if line.trim_start().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let content = line.trim_start();
        while path.last().is_some_and(|(i, _)| *i >= indent) {
            path.pop();
        }
        let mut node = &mut root;
        for (_, key) in &path {
            node = node.children.get_mut(key).unwrap();
        }
        if let Some(item) = content.strip_prefix("- ") {
            node.items.push(item.to_owned());
            continue;
        }
        let (key, value) = content
            .split_once(':')
            .unwrap_or_else(|| panic!("line {}: not `key: value`: {raw}", n + 1));
        assert!(
            !key.contains(' ') || key.starts_with('"'),
            "line {}: {raw}",
            n + 1
        );
        let value = value.trim();
        let child = node.children.entry(key.to_owned()).or_default();
        child.value = value.trim_matches('"').to_owned();
        if value.is_empty() {
            path.push((indent, key.to_owned()));
        }
    }
    root
}

/// Checks that the `LATCHKEY_*` variables are configuration keys (the config denies unknown
/// fields) and that together they validate.
#[track_caller]
fn assert_config_keys(source: &str, vars: &[(String, String)]) {
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    for (name, value) in vars {
        let key = name
            .strip_prefix("LATCHKEY_")
            .unwrap_or_else(|| panic!("{source}: {name} is not a LATCHKEY_ variable"))
            .to_ascii_lowercase()
            .replace("__", ".");
        figment = figment.merge(Serialized::default(&key, value));
    }
    let config: Config = figment
        .extract_lossy()
        .unwrap_or_else(|e| panic!("{source}: not configuration keys: {e}"));
    config
        .validate()
        .unwrap_or_else(|e| panic!("{source}: invalid configuration: {e}"));
}

#[test]
fn the_compose_file_runs_latchkey_on_postgres_with_prometheus_scraping_its_metrics() {
    let compose =
        parse_yaml(&std::fs::read_to_string(format!("{ROOT}/docker-compose.yml")).unwrap());
    let services = &compose.children["services"].children;
    for name in ["latchkey", "postgres", "prometheus"] {
        let service = services
            .get(name)
            .unwrap_or_else(|| panic!("no {name} service"));
        assert!(
            service.children.contains_key("image") || service.children.contains_key("build"),
            "{name} has neither image nor build"
        );
    }
    let latchkey = &services["latchkey"];
    let env: Vec<(String, String)> = latchkey.children["environment"]
        .children
        .iter()
        .map(|(k, v)| {
            // `${VAR:?message}` is filled in by compose; stand in a well-formed value.
            let value = if v.value.starts_with("${") {
                "ab".repeat(32)
            } else {
                v.value.clone()
            };
            (k.clone(), value)
        })
        .collect();
    assert_config_keys("docker-compose.yml", &env);
    let get = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let database = get("LATCHKEY_DATABASE_URL").unwrap();
    assert!(
        database.starts_with("postgres://") && database.contains("@postgres:5432/"),
        "{database}"
    );
    assert!(
        get("LATCHKEY_PUBLIC_URL").is_some(),
        "public_url is set, not derived from 0.0.0.0"
    );
    let metrics = get("LATCHKEY_METRICS__LISTEN").expect("metrics on their own address");
    let metrics_port = metrics.rsplit(':').next().unwrap();

    let postgres = &services["postgres"].children["environment"].children;
    let (user, db) = (
        &postgres["POSTGRES_USER"].value,
        &postgres["POSTGRES_DB"].value,
    );
    assert!(
        database.starts_with(&format!("postgres://{user}:"))
            && database.ends_with(&format!("/{db}"))
    );

    let prometheus = &services["prometheus"];
    let mount = prometheus.children["volumes"].items[0].clone();
    let (host, _) = mount.split_once(':').unwrap();
    let scrape = parse_yaml(&std::fs::read_to_string(format!("{ROOT}/{host}")).unwrap());
    let job = &scrape.children["scrape_configs"].items[0];
    assert!(job.contains("job_name: latchkey"), "{job}");
    let text = std::fs::read_to_string(format!("{ROOT}/{host}")).unwrap();
    assert!(
        text.contains(&format!("\"latchkey:{metrics_port}\"")),
        "Prometheus scrapes latchkey:{metrics_port}"
    );
    assert!(text.contains("metrics_path: /metrics"));
}

#[test]
fn the_dockerfile_sets_only_real_configuration_keys() {
    let dockerfile = std::fs::read_to_string(format!("{ROOT}/Dockerfile")).unwrap();
    let mut vars = Vec::new();
    let mut in_env = false;
    for line in dockerfile.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("ENV ") {
            in_env = true;
            vars.extend(
                rest.split_whitespace()
                    .filter(|w| w.contains('='))
                    .map(str::to_owned),
            );
        } else if in_env {
            vars.extend(
                line.split_whitespace()
                    .filter(|w| w.contains('='))
                    .map(str::to_owned),
            );
        }
        in_env &= line.ends_with('\\');
    }
    let vars: Vec<(String, String)> = vars
        .iter()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert!(vars.iter().any(|(k, _)| k == "LATCHKEY_LISTEN"), "{vars:?}");
    assert_config_keys("Dockerfile", &vars);
}
