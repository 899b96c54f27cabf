//! Storage: diesel over SQLite (embedded default) or PostgreSQL, one code path.
//!
//! Invariant: only `store/` and the `*/repo.rs` files know about diesel. Blocking
//! database work never runs on the async executor threads: [`Store::read`] and
//! [`Store::write`] move it to tokio's blocking pool. Dialect differences live in
//! this file and in the two migration folders, nowhere else.

pub mod schema;
#[cfg(test)]
pub(crate) mod testing;

use std::path::Path;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::r2d2::{self, ManageConnection};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// One connection to either backend. PostgreSQL is listed first, as the derive asks,
/// but connections are always opened through [`DbManager`], which picks the variant
/// from the URL instead of trying each in turn.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// Which database the gateway talks to, decided once from the configured URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unavailable: {0}")]
    Pool(#[from] r2d2::PoolError),
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("cannot open database: {0}")]
    Connect(String),
    #[error("blocking database task failed")]
    Join,
}

/// The r2d2 connection manager: opens the right backend and applies SQLite's
/// per-connection settings (WAL, busy timeout, foreign keys).
#[derive(Debug, Clone)]
pub struct DbManager {
    backend: Backend,
    url: String,
}

impl ManageConnection for DbManager {
    type Connection = DbConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConn, r2d2::Error> {
        match self.backend {
            Backend::Postgres => PgConnection::establish(&self.url)
                .map(DbConn::Pg)
                .map_err(r2d2::Error::ConnectionError),
            Backend::Sqlite => {
                let mut conn =
                    SqliteConnection::establish(&self.url).map_err(r2d2::Error::ConnectionError)?;
                // Each statement must run separately: `sql_query` would run only the
                // first of several.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                )
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        match conn {
            DbConn::Pg(c) => AnsiTransactionManager::is_broken_transaction_manager(c),
            DbConn::Sqlite(c) => AnsiTransactionManager::is_broken_transaction_manager(c),
        }
    }
}

/// Parses a database URL as DESIGN.md allows: `postgres://…`/`postgresql://…`, or
/// `sqlite://PATH`, or a plain SQLite path.
pub fn parse_url(url: &str) -> (Backend, String) {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        (Backend::Postgres, url.to_owned())
    } else if let Some(path) = url.strip_prefix("sqlite://") {
        (Backend::Sqlite, path.to_owned())
    } else if let Some(path) = url.strip_prefix("sqlite:") {
        (Backend::Sqlite, path.to_owned())
    } else {
        (Backend::Sqlite, url.to_owned())
    }
}

/// The pooled database handle passed down to every component that stores state.
#[derive(Clone)]
pub struct Store {
    pool: r2d2::Pool<DbManager>,
    backend: Backend,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Store {
    /// Opens a pool. For SQLite the parent directory is created, so the default
    /// `./data/obgw.db` works on a fresh clone.
    pub fn connect(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        let (backend, url) = parse_url(url);
        let parent = Path::new(&url)
            .parent()
            .filter(|p| backend == Backend::Sqlite && !p.as_os_str().is_empty());
        if let Some(parent) = parent {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Connect(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        if backend == Backend::Sqlite {
            // WAL is a property of the file; switching to it needs an exclusive lock,
            // so do it once here rather than racing in every pooled connection.
            let mut first = SqliteConnection::establish(&url)
                .map_err(|e| StoreError::Connect(e.to_string()))?;
            first
                .batch_execute("PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL;")
                .map_err(|e| StoreError::Connect(e.to_string()))?;
        }
        let pool = r2d2::Pool::builder()
            .max_size(max_connections.max(1))
            .connection_timeout(Duration::from_secs(10))
            .build(DbManager { backend, url })
            .map_err(|e| StoreError::Connect(e.to_string()))?;
        Ok(Store { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies pending migrations; returns how many ran. Safe to call on every start.
    pub fn migrate(&self) -> Result<usize, StoreError> {
        let mut conn = self.pool.get()?;
        let applied = match &mut *conn {
            DbConn::Pg(c) => c.run_pending_migrations(PG_MIGRATIONS).map(|v| v.len()),
            DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
        }
        .map_err(|e| StoreError::Migration(e.to_string()))?;
        Ok(applied)
    }

    /// Runs `f` with a pooled connection on the blocking pool, outside any
    /// transaction (reads, or writes that are a single statement).
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(StoreError::from)?;
            f(&mut conn)
        })
        .await
        .map_err(|_| StoreError::Join)?
    }

    /// Runs `f` in a write transaction on the blocking pool. On SQLite the
    /// transaction begins `IMMEDIATE`, so concurrent writers queue on the busy
    /// timeout instead of failing with `SQLITE_BUSY` when they upgrade a read lock.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(StoreError::from)?;
            write_tx(&mut conn, f)
        })
        .await
        .map_err(|_| StoreError::Join)?
    }

    /// Synchronous variant of [`Store::write`] for the CLI and start-up.
    pub fn write_blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E>,
        E: From<StoreError>,
    {
        let mut conn = self.pool.get().map_err(StoreError::from)?;
        write_tx(&mut conn, f)
    }

    /// Synchronous variant of [`Store::read`] for the CLI and start-up.
    pub fn read_blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E>,
        E: From<StoreError>,
    {
        let mut conn = self.pool.get().map_err(StoreError::from)?;
        f(&mut conn)
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| c.batch_execute("SELECT 1").map_err(StoreError::from))
            .await
    }
}

/// Begins a transaction on the inner connection (IMMEDIATE on SQLite), runs `f`,
/// commits on `Ok` and rolls back on `Err`. Nested `conn.transaction` calls inside
/// `f` become savepoints, because the multi-connection's transaction manager
/// delegates to the inner connection's.
fn write_tx<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<StoreError>,
{
    let begun = match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE"),
        DbConn::Pg(c) => AnsiTransactionManager::begin_transaction(c),
    };
    begun.map_err(StoreError::from)?;
    match f(conn) {
        Ok(value) => {
            <DbConn as Connection>::TransactionManager::commit_transaction(conn)
                .map_err(StoreError::from)?;
            Ok(value)
        }
        Err(e) => {
            // The caller's error is the one worth reporting; a failed rollback
            // leaves the connection marked broken and r2d2 discards it.
            let _ = <DbConn as Connection>::TransactionManager::rollback_transaction(conn);
            Err(e)
        }
    }
}

/// Converts an instant to the UTC wall-clock form stored in `TIMESTAMP` columns,
/// truncated to microseconds so both backends round-trip it identically.
pub fn to_db_time(t: OffsetDateTime) -> PrimitiveDateTime {
    let utc = t.to_offset(UtcOffset::UTC);
    let micros = utc.microsecond();
    let utc = utc.replace_microsecond(micros).unwrap_or(utc);
    PrimitiveDateTime::new(utc.date(), utc.time())
}

/// The inverse of [`to_db_time`].
pub fn from_db_time(t: PrimitiveDateTime) -> OffsetDateTime {
    t.assume_utc()
}

/// Whether a diesel error is a unique-constraint violation (a lost race on an
/// idempotency or natural key), which callers turn into "already exists".
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// Runs an `INSERT … ON CONFLICT DO NOTHING` on the inner connection: the SQL is
/// the same on both backends, but diesel builds the clause only per backend, not
/// for the multi-connection. Evaluates to the number of rows inserted.
macro_rules! insert_ignoring_conflicts {
    ($conn:expr, $insert:expr) => {
        match $conn {
            $crate::store::DbConn::Pg(c) => $insert.on_conflict_do_nothing().execute(c),
            $crate::store::DbConn::Sqlite(c) => $insert.on_conflict_do_nothing().execute(c),
        }
    };
}
pub(crate) use insert_ignoring_conflicts;
