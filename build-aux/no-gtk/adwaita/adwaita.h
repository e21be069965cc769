/* Put first on the include path of the GTK-free libraries (proto, net, media,
 * call) and of the relay and CLI: including GTK there is a layering error. */
#error "proto/, net/, media/, call/, server/ and cli/ must not use GTK (see STYLE.md, Layers)"
