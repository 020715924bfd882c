mod delete_conversation;
mod get_conversation;
mod list_conversations;
mod rename_conversation;

pub use delete_conversation::*;
pub use get_conversation::*;
pub use list_conversations::*;
pub use rename_conversation::*;
