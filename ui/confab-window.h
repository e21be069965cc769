/* confab-window.h: the main window: start screen, pre-join for one invite,
 * and the call (participant grid and controls). */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define CONFAB_TYPE_WINDOW (confab_window_get_type ())
G_DECLARE_FINAL_TYPE (ConfabWindow, confab_window, CONFAB, WINDOW, AdwApplicationWindow)

ConfabWindow *confab_window_new (GtkApplication *application);

/* An invite link or a room name on the default server: shows its pre-join
 * page, or the start page with the reason it cannot be used. Ignored (with a
 * toast) while in a call. */
void confab_window_open_link (ConfabWindow *self, const char *link);

G_END_DECLS
