/* confab-prejoin.h: the media half of the pre-join page: a live, mirrored
 * camera preview (the grid's GL renderer), a microphone level meter, camera /
 * microphone / speaker pickers that follow devices coming and going (saved as
 * the GSettings preferred-*), and a plain reason when something is missing.
 * Joining never depends on it. Capture runs only while it is on screen. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define CONFAB_TYPE_PREJOIN (confab_prejoin_get_type ())
G_DECLARE_FINAL_TYPE (ConfabPrejoin, confab_prejoin, CONFAB, PREJOIN, GtkBox)

/* Properties "camera-on" and "microphone-on" (the window binds its toggles):
 * off stops the preview or the meter and releases the device. */
GtkWidget *confab_prejoin_new (void);

G_END_DECLS
