"""The fake's directory: users, organisations, spaces and apps, and their JSON shapes."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from . import seed as _seed
from .records import (
    APP_TOKEN_PREFIX,
    ApiError,
    FakeApp,
    FakeOrg,
    FakeSpace,
    FakeUser,
    fmt_ts,
    make_secret,
    slugify,
)

if TYPE_CHECKING:
    from .shape import StateShape
else:
    StateShape = object


class DirectoryState(StateShape):
    """Part of :class:`~.state.PodioState`: who and what exists (its lock, ids and clock)."""

    _current_user_id: int | None
    _default_space_id: int | None

    # ------------------------------------------------------------------ people
    def add_user(
        self,
        user_id: int | None = None,
        mail: str | None = None,
        name: str | None = None,
        password: str | None = None,
    ) -> FakeUser:
        """A Podio user (the first one also becomes :attr:`current_user`); ``password`` is
        for the password grant (``"password"`` when not given)."""
        with self._lock:
            if user_id is not None and int(user_id) in self.users:
                raise ValueError(f"user {user_id} exists already")
            n = len(self.users) + 1
            mail = mail or f"user{n}@example.com"
            if any(u.mail.lower() == mail.lower() for u in self.users.values()):
                raise ValueError(f"a user with mail {mail!r} exists already")
            user = FakeUser(
                user_id=self._next_id("user", user_id),
                mail=mail,
                name=name or f"User {n}",
                password="password" if password is None else password,
                profile_id=self._next_id("profile"),
                created_on=self.now() - 400 * 86400,
            )
            self.users[user.user_id] = user
            return user

    @property
    def current_user(self) -> FakeUser:
        """The Podio user "logged in" in the browser that visits the authorize page."""
        with self._lock:
            if self._current_user_id is None or self._current_user_id not in self.users:
                user = next(iter(self.users.values()), None) or self.add_user()
                self._current_user_id = user.user_id
            return self.users[self._current_user_id]

    @current_user.setter
    def current_user(self, user: FakeUser | int) -> None:
        user_id = user.user_id if isinstance(user, FakeUser) else int(user)
        with self._lock:
            if user_id not in self.users:
                raise KeyError(f"no user {user_id}")
            self._current_user_id = user_id

    def user_by_mail(self, mail: str) -> FakeUser | None:
        with self._lock:
            return next((u for u in self.users.values() if u.mail.lower() == mail.lower()), None)

    def _user_by_profile(self, profile_id: int) -> FakeUser | None:
        return next((u for u in self.users.values() if u.profile_id == profile_id), None)

    # ------------------------------------------------------------------ orgs, spaces, apps
    def add_org(self, name: str = "Fake Org", *, org_id: int | None = None) -> FakeOrg:
        with self._lock:
            org = FakeOrg(org_id=self._next_id("org", org_id), name=name)
            self.orgs[org.org_id] = org
            return org

    def add_space(
        self, org_id: int | None = None, name: str = "Fake Space", *, space_id: int | None = None
    ) -> FakeSpace:
        with self._lock:
            if org_id is None:
                org_id = next(iter(self.orgs), None) or self.add_org().org_id
            org = self.orgs[org_id]
            space = FakeSpace(space_id=self._next_id("space", space_id), org_id=org_id, name=name)
            self.spaces[space.space_id] = space
            org.space_ids.append(space.space_id)
            return space

    def _default_space(self) -> int:
        if self._default_space_id is None or self._default_space_id not in self.spaces:
            self._default_space_id = self.add_space().space_id
        return self._default_space_id

    def add_app(
        self,
        app_id: int | None = None,
        *,
        name: str = "Projects",
        space_id: int | None = None,
        app_token: str | None = None,
        fields: list[dict[str, Any]] | None = None,
        item_name: str | None = None,
    ) -> FakeApp:
        """An app (in a default org and space unless ``space_id``), with an app token for the
        app grant (``podio_app_auth``) and, unless ``fields`` says otherwise, a few fields."""
        with self._lock:
            if app_id is not None and int(app_id) in self.apps:
                raise ValueError(f"app {app_id} exists already")
            if space_id is None:
                space_id = self._default_space()
            elif space_id not in self.spaces:
                org_id = next(iter(self.orgs), None) or self.add_org().org_id
                self.add_space(org_id, f"Space {space_id}", space_id=space_id)
            new_id = self._next_id("app", app_id)
            defs = _seed.default_fields(new_id) if fields is None else [dict(f) for f in fields]
            app = FakeApp(
                app_id=new_id,
                name=name,
                space_id=space_id,
                app_token=app_token or make_secret(APP_TOKEN_PREFIX, 32),
                fields=[self._complete_field(f, delta) for delta, f in enumerate(defs)],
                item_name=item_name or (name[:-1] if name.endswith("s") else name),
            )
            self.apps[app.app_id] = app
            return app

    def _complete_field(self, spec: dict[str, Any], delta: int = 0) -> dict[str, Any]:
        """Fill in what Podio always has on a field, so partial test definitions work.

        A copy: an app's settings (its options …) are its own, whatever a test changes.
        """
        spec = copy.deepcopy(spec)
        ftype = spec.get("type", "text")
        label = spec.get("label") or spec.get("config", {}).get("label") or "Field"
        external_id = spec.get("external_id") or slugify(label)
        config: dict[str, Any] = {
            "label": label,
            "description": None,
            "delta": delta,
            "settings": {},
            "required": False,
            "hidden": False,
            "unique": False,
            "mapping": None,
            "visible": True,
            "hidden_create_view_edit": False,
            "default_value": None,
        }
        config.update(spec.get("config") or {})
        if "settings" in spec:
            config["settings"] = spec["settings"]
        return {
            "field_id": self._next_id("field", spec.get("field_id")),
            "external_id": external_id,
            "type": ftype,
            "label": label,
            "status": spec.get("status", "active"),
            "config": config,
        }

    def add_field(self, app_id: int, spec: dict[str, Any]) -> dict[str, Any]:
        """Add a field to an app, as its owner does in Podio's app builder (``app.update``
        hooks fire)."""
        with self._lock:
            app = self.get_app(app_id)
            field = self._complete_field(spec, len(app.fields))
            app.fields.append(field)
            self._items_changed(app.app_id)
            self._enqueue_event("app.update", app.app_id, {"app_id": str(app.app_id)})
            return field

    def get_app(self, app_id: int) -> FakeApp:
        with self._lock:
            try:
                return self.apps[int(app_id)]
            except KeyError:
                raise ApiError(404, "not_found", "App not found") from None

    # ------------------------------------------------------------------ JSON rendering
    def _byline(self, ref: tuple[str, int]) -> dict[str, Any]:
        kind, ref_id = ref
        if kind == "app":
            app = self.apps.get(ref_id)
            return {
                "type": "app",
                "id": ref_id,
                "app_id": ref_id,
                "name": app.name if app else "App",
                "url": None,
                "avatar": None,
                "image": None,
                "avatar_type": "icon",
            }
        user = self.users.get(ref_id)
        return {
            "type": "user",
            "id": ref_id,
            "user_id": ref_id,
            "name": user.name if user else "Deleted user",
            "url": f"https://podio.com/users/{ref_id}",
            "avatar": None,
            "image": None,
            "avatar_type": "file",
            "last_seen_on": None,
        }

    def _profile(self, user: FakeUser) -> dict[str, Any]:
        return {
            "profile_id": user.profile_id,
            "user_id": user.user_id,
            "name": user.name,
            "type": "user",
            "mail": [user.mail],
            "avatar": None,
            "image": None,
            "link": f"https://podio.com/users/{user.user_id}",
            "url": [],
            "external_id": None,
            "last_seen_on": None,
        }

    def _space_json(self, space: FakeSpace) -> dict[str, Any]:
        org = self.orgs[space.org_id]
        return {
            "space_id": space.space_id,
            "name": space.name,
            "url": f"https://podio.com/{slugify(org.name)}/{slugify(space.name)}/",
            "url_label": slugify(space.name),
            "org_id": space.org_id,
            "role": "admin",
            "rights": ["view", "update", "delete", "add_app", "add_item", "add_task"],
            "privacy": "closed",
            "auto_join": False,
            "type": "regular",
            "premium": False,
            "description": None,
            "created_on": fmt_ts(self.now() - 300 * 86400),
        }

    def _org_json(self, org: FakeOrg) -> dict[str, Any]:
        return {
            "org_id": org.org_id,
            "name": org.name,
            "url": f"https://podio.com/{slugify(org.name)}/",
            "url_label": slugify(org.name),
            "premium": False,
            "role": "admin",
            "status": "active",
            "type": "free",
            "rights": ["view", "update", "add_space"],
            "logo": None,
            "image": None,
            "spaces": [self._space_json(self.spaces[s]) for s in org.space_ids],
        }

    def _app_link(self, app: FakeApp) -> str:
        space = self.spaces.get(app.space_id)
        org = self.orgs.get(space.org_id) if space else None
        org_slug = slugify(org.name) if org else "org"
        space_slug = slugify(space.name) if space else "space"
        return f"https://podio.com/{org_slug}/{space_slug}/apps/{slugify(app.name)}"

    def _app_mini(self, app: FakeApp) -> dict[str, Any]:
        return {
            "app_id": app.app_id,
            "space_id": app.space_id,
            "name": app.name,
            "item_name": app.item_name,
            "icon": "1.png",
            "icon_id": 1,
            "url_label": slugify(app.name),
            "link": self._app_link(app),
            "link_add": self._app_link(app) + "/items/new",
            "status": "active",
            "config": {
                "name": app.name,
                "item_name": app.item_name,
                "icon": "1.png",
                "icon_id": 1,
                "type": "standard",
                "allow_edit": True,
                "allow_create": True,
                "default_view": "badge",
                "description": None,
                "external_id": None,
            },
        }

    #: Podio shows an app's token in ``GET /app/{id}`` to API keys with a raised trust level
    #: (``podio-api.md`` §4.4): True plays such a key.
    expose_app_tokens = False

    def app_json(self, app: FakeApp) -> dict[str, Any]:
        with self._lock:
            data = self._app_mini(app)
            if self.expose_app_tokens:
                data["token"] = app.app_token
            data.update(
                {
                    "original": None,
                    "original_revision": None,
                    "owner": self._byline(("user", self.current_user.user_id)),
                    "fields": [dict(f) for f in app.fields],
                    "url": self._app_link(app),
                    "rights": ["view", "add_item", "update", "delete"],
                }
            )
            return data
