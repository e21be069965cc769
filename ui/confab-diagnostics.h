/* confab-diagnostics.h: the in-call diagnostics popover: the transport in
 * use, round-trip time, send tier and how each participant's video arrives.
 * It reads statistics only while it is open. */
#pragma once

#include "confab-call-session.h"

#include <adwaita.h>

G_BEGIN_DECLS

#define CONFAB_TYPE_DIAGNOSTICS (confab_diagnostics_get_type ())
G_DECLARE_FINAL_TYPE (ConfabDiagnostics, confab_diagnostics, CONFAB, DIAGNOSTICS, GtkPopover)

GtkWidget *confab_diagnostics_new (void);
/* The call to describe, or NULL between calls. */
void confab_diagnostics_set_session (ConfabDiagnostics *self, ConfabCallSession *session);

G_END_DECLS
