/* confab-application.h: the single `confab` instance: opens invite links
 * (command line, desktop activation, a second invocation) in its window. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define CONFAB_APPLICATION_ID "io.github.confab.Confab"

#define CONFAB_TYPE_APPLICATION (confab_application_get_type ())
G_DECLARE_FINAL_TYPE (ConfabApplication, confab_application, CONFAB, APPLICATION, AdwApplication)

ConfabApplication *confab_application_new (void);

G_END_DECLS
