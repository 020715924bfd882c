pub mod assistants;
pub mod conversation;
pub mod documents;
pub mod home;
