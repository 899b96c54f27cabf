//! A throwaway database for unit tests: a fresh SQLite file, or a fresh schema in
//! the PostgreSQL database named by `OBGW_TEST_DATABASE_URL` (as the integration
//! tests do). Removed when dropped.

use std::path::PathBuf;

use diesel::Connection;
use diesel::connection::SimpleConnection;

pub(crate) enum Scratch {
    SqliteFile(PathBuf),
    PgSchema { base: String, schema: String },
}

impl Scratch {
    /// The scratch database and its URL; `prefix` names it for humans.
    pub(crate) fn new(prefix: &str) -> (Scratch, String) {
        match std::env::var("OBGW_TEST_DATABASE_URL") {
            Ok(base) if !base.is_empty() => {
                let schema = format!("t_{prefix}_{}", uuid::Uuid::new_v4().simple());
                let mut conn = diesel::PgConnection::establish(&base).unwrap();
                conn.batch_execute(&format!("CREATE SCHEMA {schema}"))
                    .unwrap();
                let sep = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
                (Scratch::PgSchema { base, schema }, url)
            }
            _ => {
                let file = format!("obgw-{prefix}-{}.db", uuid::Uuid::new_v4());
                let path = std::env::temp_dir().join(file);
                let url = path.to_str().unwrap().to_owned();
                (Scratch::SqliteFile(path), url)
            }
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        match self {
            Scratch::SqliteFile(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
            Scratch::PgSchema { base, schema } => {
                if let Ok(mut conn) = diesel::PgConnection::establish(base) {
                    let _ = conn.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
                }
            }
        }
    }
}
