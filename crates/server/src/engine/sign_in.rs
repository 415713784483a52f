//! Which account an identity from the OpenID Connect provider signs into, as the
//! reference's settings say: by the provider's subject (`sub`); an identity seen for the
//! first time by its email (`OIDC_FALLBACK_TO_EMAIL_FOR_IDENTIFICATION`) or as a new
//! account (`OIDC_CREATE_USER`). The email and name the provider gives refresh the
//! account's at each sign-in.
//!
//! An account already linked to a subject is never linked to another: an identity with
//! the same email at the provider cannot take it over. Nor is an email the provider says
//! is unverified used to find an account.

use crate::{
    adapters::{
        db::{Db, StoreError, UserRow},
        identity_provider::Identity,
    },
    config::OidcSettings,
};

/// Why an identity signs into no account; each is shown to the person by its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The provider gave no subject identifier.
    NoSubject,
    /// A new account needs an email, and the provider gave none.
    NoEmail,
    /// The account with this email is linked to another identity of the provider.
    EmailLinkedToAnother,
    /// An account has this email, but it may not be linked (the fallback is off or the
    /// email is unverified).
    EmailTaken,
    /// No account matches, and accounts are not created at sign-in.
    NoAccount,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::NoSubject => "sign-in-no-subject",
            Refusal::NoEmail => "sign-in-no-email",
            Refusal::EmailLinkedToAnother => "sign-in-email-linked-to-another",
            Refusal::EmailTaken => "sign-in-email-taken",
            Refusal::NoAccount => "sign-in-no-account",
        }
    }

    pub fn detail(self) -> &'static str {
        match self {
            Refusal::NoSubject => "The identity provider did not say who signed in.",
            Refusal::NoEmail => {
                "The identity provider gave no email address, which a new account needs."
            }
            Refusal::EmailLinkedToAnother => {
                "The account with this email address is linked to another identity."
            }
            Refusal::EmailTaken => {
                "An account with this email address exists but cannot be linked to this identity."
            }
            Refusal::NoAccount => "There is no account for this identity here.",
        }
    }
}

/// The account `identity` signs into, refreshed with the provider's email and name.
pub async fn account_for(
    db: &Db,
    settings: &OidcSettings,
    identity: &Identity,
) -> Result<Result<UserRow, Refusal>, StoreError> {
    if identity.sub.is_empty() {
        return Ok(Err(Refusal::NoSubject));
    }
    if let Some(user) = db.user_by_external_sub(&identity.sub).await? {
        return Ok(Ok(refreshed(db, user, identity).await?));
    }
    let email = identity.email.as_deref();
    if let Some(email) = email
        && let Some(user) = db.user_by_email(email).await?
    {
        if !settings.fallback_to_email || !identity.email_verified {
            return Ok(Err(Refusal::EmailTaken));
        }
        return match db.link_external_sub(user.id, &identity.sub).await {
            Ok(true) => Ok(Ok(refreshed(db, user, identity).await?)),
            Ok(false) => Ok(Err(Refusal::EmailLinkedToAnother)),
            // The same identity's concurrent sign-in linked it first.
            Err(StoreError::Conflict) => linked_meanwhile(db, identity).await,
            Err(error) => Err(error),
        };
    }
    if !settings.create_user {
        return Ok(Err(Refusal::NoAccount));
    }
    let Some(email) = email else {
        return Ok(Err(Refusal::NoEmail));
    };
    match db
        .create_external_user(email, &identity.full_name, &identity.sub)
        .await
    {
        Ok(user) => Ok(Ok(user)),
        // A concurrent sign-in of the same identity created it, or another account took
        // the email meanwhile.
        Err(StoreError::Conflict) => linked_meanwhile(db, identity).await,
        Err(error) => Err(error),
    }
}

async fn linked_meanwhile(
    db: &Db,
    identity: &Identity,
) -> Result<Result<UserRow, Refusal>, StoreError> {
    Ok(db
        .user_by_external_sub(&identity.sub)
        .await?
        .ok_or(Refusal::EmailTaken))
}

/// The account with the provider's current email and name; an email another account has
/// is left as it was (and logged), a missing name or email changes nothing.
async fn refreshed(db: &Db, user: UserRow, identity: &Identity) -> Result<UserRow, StoreError> {
    let email = identity.email.as_deref().unwrap_or(&user.email);
    let full_name = if identity.full_name.is_empty() {
        &user.full_name
    } else {
        &identity.full_name
    };
    if email == user.email && *full_name == user.full_name {
        return Ok(user);
    }
    let update = match db.refresh_external_user(user.id, email, full_name).await {
        Err(StoreError::Conflict) => {
            tracing::warn!(
                user = %user.id,
                "the identity provider's email for this account belongs to another account; \
                 the account keeps its email"
            );
            db.refresh_external_user(user.id, &user.email, full_name)
                .await?
        }
        other => other?,
    };
    Ok(update.unwrap_or(user))
}
