pub mod banner;
pub mod composer;
pub mod conversation_settings;
pub mod header;
pub mod message;
pub mod sidebar;
pub mod theme;
pub mod time;
