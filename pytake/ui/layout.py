"""The application shell: sidebar navigation, top bar with the user menu, and page frames."""

from __future__ import annotations

import reflex as rx

from pytake.i18n import LANGUAGES
from pytake.ui.notices import NoticeState
from pytake.ui.session import SessionState, t

ACCENT = "#128C7E"
# (where, icon, label, who sees it: None for everyone, else a SessionState flag's name)
NAV = [
    ("/inbox", "message-circle", "nav.inbox", None),
    ("/contacts", "contact", "nav.contacts", None),
    ("/templates", "file-text", "nav.templates", None),
    ("/dashboard", "chart-column", "nav.dashboard", None),
    ("/reports", "chart-line", "nav.reports", "is_supervisor"),
    ("/flows", "bot", "nav.flows", "is_admin"),
    ("/settings", "settings", "nav.settings", "is_admin"),
]


def brand(size: str = "5") -> rx.Component:
    return rx.hstack(
        rx.center(
            rx.icon("message-circle-more", size=20, color="white"),
            background=ACCENT,
            border_radius="10px",
            width="34px",
            height="34px",
        ),
        rx.heading("PyTake", size=size, weight="bold"),
        align="center",
        spacing="2",
    )


def _nav_item(href: str, icon: str, key: str) -> rx.Component:
    active = rx.State.router.page.path.startswith(href)
    return rx.link(
        rx.hstack(
            rx.icon(icon, size=18),
            rx.text(t(key), size="3", weight="medium"),
            align="center",
            spacing="3",
            padding_x="12px",
            padding_y="9px",
            border_radius="8px",
            width="100%",
            background=rx.cond(active, rx.color("accent", 4), "transparent"),
            color=rx.cond(active, rx.color("accent", 11), rx.color("gray", 11)),
            _hover={"background": rx.color("accent", 3), "color": rx.color("accent", 11)},
        ),
        href=href,
        underline="none",
        width="100%",
        data_testid=f"nav-{href.strip('/')}",
    )


def _nav_items(render) -> list[rx.Component]:
    """``render(href, icon, key)`` for each destination the user's role may open."""
    items = []
    for href, icon, key, flag in NAV:
        item = render(href, icon, key)
        items.append(rx.cond(getattr(SessionState, flag), item) if flag else item)
    return items


def _menu_nav_item(href: str, icon: str, key: str) -> rx.Component:
    return rx.menu.item(rx.icon(icon, size=14), t(key), on_select=rx.redirect(href))


def sidebar() -> rx.Component:
    return rx.vstack(
        rx.box(brand(), padding_x="8px", padding_y="6px"),
        rx.vstack(*_nav_items(_nav_item), spacing="1", width="100%"),
        rx.spacer(),
        rx.text(t("app.tagline"), size="1", color=rx.color("gray", 10), padding_x="8px"),
        width="232px",
        min_width="232px",
        height="100vh",
        position="sticky",
        top="0",
        padding="16px",
        spacing="5",
        border_right=f"1px solid {rx.color('gray', 5)}",
        background=rx.color("gray", 2),
        display=["none", "none", "flex"],
        data_testid="sidebar",
    )


def language_items(on_select) -> list[rx.Component]:
    return [
        rx.menu.item(
            rx.hstack(
                rx.text(label),
                rx.cond(SessionState.language == code, rx.icon("check", size=14)),
                justify="between",
                width="100%",
            ),
            on_select=on_select(code),
        )
        for code, label in LANGUAGES.items()
    ]


def user_menu() -> rx.Component:
    return rx.menu.root(
        rx.menu.trigger(
            rx.button(
                rx.avatar(fallback=SessionState.initials, size="2", radius="full"),
                rx.text(SessionState.user_name, size="2", display=["none", "inline"]),
                rx.icon("chevron-down", size=14),
                variant="ghost",
                color_scheme="gray",
                data_testid="user-menu",
            )
        ),
        rx.menu.content(
            rx.box(
                rx.text(SessionState.user_name, weight="bold", size="2"),
                rx.text(SessionState.user_email, size="1", color=rx.color("gray", 10)),
                rx.badge(SessionState.role_label, margin_top="6px", variant="soft"),
                padding="8px 12px",
            ),
            rx.menu.separator(),
            rx.menu.item(
                rx.icon("user", size=14), t("nav.profile"), on_select=rx.redirect("/profile")
            ),
            rx.menu.item(
                rx.icon("bell", size=14),
                t("nav.notifications"),
                on_select=rx.redirect("/notifications"),
                data_testid="notification-settings",
            ),
            rx.menu.sub(
                rx.menu.sub_trigger(rx.icon("languages", size=14), t("menu.language")),
                rx.menu.sub_content(*language_items(SessionState.set_language)),
            ),
            rx.menu.item(
                rx.icon("sun-moon", size=14), t("menu.theme"), on_select=rx.toggle_color_mode
            ),
            rx.menu.item(
                rx.icon(rx.cond(NoticeState.sound == "on", "volume-2", "volume-x"), size=14),
                rx.cond(NoticeState.sound == "on", t("menu.sound_off"), t("menu.sound_on")),
                on_select=NoticeState.toggle_sound,
                data_testid="toggle-sound",
            ),
            rx.menu.item(
                rx.icon(rx.cond(NoticeState.desktop == "on", "bell-off", "bell-ring"), size=14),
                rx.cond(NoticeState.desktop == "on", t("menu.desktop_off"), t("menu.desktop_on")),
                on_select=NoticeState.toggle_desktop,
                data_testid="toggle-desktop",
            ),
            rx.menu.item(
                rx.icon("monitor-down", size=14),
                t("menu.install"),
                on_select=rx.call_script("window.pytakeInstall()"),
                class_name="pytake-install",
                data_testid="install-app",
            ),
            rx.menu.separator(),
            rx.menu.item(
                rx.icon("log-out", size=14),
                t("menu.sign_out"),
                color="red",
                on_select=SessionState.sign_out,
                data_testid="sign-out",
            ),
        ),
    )


def mobile_nav() -> rx.Component:
    return rx.menu.root(
        rx.menu.trigger(
            rx.icon_button(rx.icon("menu"), variant="ghost", color_scheme="gray"),
            display=["flex", "flex", "none"],
        ),
        rx.menu.content(*_nav_items(_menu_nav_item)),
    )


def search_box() -> rx.Component:
    """Enter opens the search page for what was typed."""
    return rx.form(
        rx.input(
            rx.input.slot(rx.icon("search", size=14)),
            name="q",
            placeholder=t("search.placeholder"),
            max_length=200,
            width="260px",
            data_testid="search-box",
        ),
        on_submit=SessionState.open_search,
        reset_on_submit=True,
        display=["none", "none", "block"],
    )


def top_bar(title_key: str) -> rx.Component:
    return rx.hstack(
        mobile_nav(),
        rx.heading(t(title_key), size="5", white_space="nowrap", data_testid="page-title"),
        rx.spacer(),
        search_box(),
        user_menu(),
        align="center",
        width="100%",
        padding_x="24px",
        padding_y="12px",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        background=rx.color("gray", 1),
        position="sticky",
        top="0",
        z_index="10",
    )


def loading() -> rx.Component:
    return rx.center(rx.spinner(size="3"), height="100vh", width="100%")


def shell(title_key: str, *content: rx.Component) -> rx.Component:
    """A protected page: nothing is drawn until the guard has confirmed the session."""
    return rx.cond(
        SessionState.signed_in,
        rx.hstack(
            sidebar(),
            rx.vstack(
                top_bar(title_key),
                rx.box(*content, padding=["16px", "24px"], width="100%", max_width="1200px"),
                spacing="0",
                width="100%",
                min_height="100vh",
            ),
            spacing="0",
            width="100%",
            align="start",
        ),
        loading(),
    )


def icon_tile(icon: str, size: int = 20, box: str = "40px", radius: str = "10px") -> rx.Component:
    """An icon on a soft accent square (or circle): what a card or an empty page is about."""
    return rx.center(
        rx.icon(icon, size=size, color=rx.color("accent", 11)),
        background=rx.color("accent", 3),
        border_radius=radius,
        width=box,
        height=box,
        flex_shrink="0",
    )


def empty_state(icon: str, title_key: str, body_key: str) -> rx.Component:
    return rx.center(
        rx.vstack(
            icon_tile(icon, size=28, box="56px", radius="50%"),
            rx.heading(t(title_key), size="4"),
            rx.text(
                t(body_key), color=rx.color("gray", 11), text_align="center", max_width="440px"
            ),
            align="center",
            spacing="3",
        ),
        padding="64px 16px",
        border=f"1px dashed {rx.color('gray', 6)}",
        border_radius="12px",
        width="100%",
    )


def card(*children: rx.Component, **props) -> rx.Component:
    return rx.card(*children, size="3", width="100%", **props)


def auth_frame(*children: rx.Component) -> rx.Component:
    """The centred frame of the sign-in and set-up pages, with a language switch."""
    return rx.box(
        rx.hstack(
            brand("6"),
            rx.spacer(),
            rx.menu.root(
                rx.menu.trigger(
                    rx.button(
                        rx.icon("languages", size=16),
                        SessionState.tr["menu.language"].to(str),
                        variant="soft",
                        color_scheme="gray",
                        data_testid="language-menu",
                    )
                ),
                rx.menu.content(*language_items(SessionState.set_language)),
            ),
            rx.color_mode.button(variant="soft", color_scheme="gray"),
            width="100%",
            padding="20px 24px",
            align="center",
            spacing="2",
        ),
        rx.center(
            rx.vstack(*children, width="100%", max_width="420px", spacing="4"),
            padding="24px 16px 64px",
        ),
        min_height="100vh",
        background=rx.color("gray", 2),
    )
