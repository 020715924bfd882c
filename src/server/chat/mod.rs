mod regenerate_answer;
mod send_message;
mod stop_generation;

pub use regenerate_answer::*;
pub use send_message::*;
pub use stop_generation::*;
