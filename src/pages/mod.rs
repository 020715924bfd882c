pub mod assistants;
pub mod conversation;
pub mod home;
