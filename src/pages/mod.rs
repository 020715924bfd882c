pub mod conversation;
pub mod home;
