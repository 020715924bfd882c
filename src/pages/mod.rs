pub mod account;
pub mod analytics;
pub mod assistants;
pub mod conversation;
pub mod documents;
pub mod home;
pub mod integrations;
pub mod settings;
