/* confab-preferences.h: the preferences window, every row bound to the
 * app's GSettings (display name, default server, devices, codec, echo
 * cancellation, start muted). */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define CONFAB_TYPE_PREFERENCES (confab_preferences_get_type ())
G_DECLARE_FINAL_TYPE (
    ConfabPreferences, confab_preferences, CONFAB, PREFERENCES, AdwPreferencesWindow)

GtkWidget *confab_preferences_new (GtkWindow *parent);

G_END_DECLS
