"""The one access policy: who may see and do what, on which group or project.

- `roles`: the vocabulary (roles, visibility, what is open to whom);
- `abilities`: what can be asked for, and which role and scopes each needs;
- `policy`: effective roles, the `Access` of a user on a group or project, and `authorize()`,
  which decides for any principal (a user, a token, anonymous) on any surface;
- `lookups`: the one way to find a group or project by id or path.

Pages, querysets, the HTTP authentication layer, the API and the registry all ask here.
"""
