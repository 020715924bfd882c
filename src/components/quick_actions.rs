//! A small list of actions (links), as a widget: the sidebar's quick actions and the header's
//! menu use it. Actions of a feature that is switched off are left out.

use super::preferences::use_preferences;
use crate::model::Features;
use leptos::prelude::*;

/// One action: where it goes, what it says, and the feature it needs (if any).
#[derive(Clone, Copy, Debug)]
pub struct QuickAction {
    pub href: &'static str,
    pub label: &'static str,
    pub icon: &'static str,
    pub test_id: &'static str,
    pub needs: Option<fn(&Features) -> bool>,
}

/// The app's quick actions.
pub const QUICK_ACTIONS: &[QuickAction] = &[
    QuickAction {
        href: "/analytics",
        label: "Analytics",
        icon: "▤",
        test_id: "quick-analytics",
        needs: Some(|f| f.analytics),
    },
    QuickAction {
        href: "/documents",
        label: "Documents",
        icon: "▧",
        test_id: "quick-documents",
        needs: None,
    },
    QuickAction {
        href: "/assistants",
        label: "Assistants",
        icon: "◎",
        test_id: "quick-assistants",
        needs: None,
    },
    QuickAction {
        href: "/integrations",
        label: "Integrations",
        icon: "⇄",
        test_id: "quick-integrations",
        needs: Some(|f| f.webhooks),
    },
    QuickAction {
        href: "/settings",
        label: "Settings",
        icon: "⚙",
        test_id: "quick-settings",
        needs: None,
    },
];

/// A titled list of actions.
#[component]
pub fn ActionList(
    title: &'static str,
    actions: &'static [QuickAction],
    #[prop(optional)] test_id: &'static str,
) -> impl IntoView {
    let preferences = use_preferences();
    view! {
        <nav aria-label=title data-testid=test_id class="action-list">
            <p class="px-2 pb-1 text-xs font-medium uppercase tracking-wide text-muted">{title}</p>
            <ul class="space-y-0.5">
                {move || {
                    let features = preferences.current.with(|p| p.features.clone());
                    actions
                        .iter()
                        .filter(|a| a.needs.is_none_or(|needs| needs(&features)))
                        .map(|a| view! {
                            <li>
                                <a href=a.href data-testid=a.test_id class="flex items-center gap-2 rounded-md px-2 py-1.5 text-sm hover:bg-app">
                                    <span aria-hidden="true" class="w-4 text-center text-muted">{a.icon}</span>
                                    {a.label}
                                </a>
                            </li>
                        })
                        .collect_view()
                }}
            </ul>
        </nav>
    }
}
