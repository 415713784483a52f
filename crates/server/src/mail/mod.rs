//! Email: SMTP, console and file mailers, and the message templates.
