pub mod create;
pub mod list;
pub mod update;

use serde::Serialize;
use urbanstream_schema::models::UserRow;

use super::ApiError;
use crate::auth::Role;

/// A user as the API shows it (never the password hash).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct User {
    id: i64,
    username: String,
    role: String,
    disabled: bool,
    created_ms: i64,
    password_changed_ms: i64,
}

impl From<UserRow> for User {
    fn from(u: UserRow) -> Self {
        Self {
            id: u.id,
            username: u.username,
            role: u.role,
            disabled: u.disabled,
            created_ms: u.created_ms,
            password_changed_ms: u.password_changed_ms,
        }
    }
}

pub(crate) fn parse_role(s: &str) -> Result<Role, ApiError> {
    s.parse()
        .map_err(|e: crate::auth::UnknownRole| ApiError::BadRequest(e.to_string()))
}

/// Usernames: 1 to 64 of letters, digits, `.`, `_`, `-`, `@`.
pub(crate) fn check_username(name: &str) -> Result<(), ApiError> {
    let ok = (1..=64).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::BadRequest(
            "username must be 1 to 64 letters, digits or . _ - @".into(),
        ))
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserPage {
    pub items: Vec<User>,
    pub next_cursor: Option<i64>,
}
