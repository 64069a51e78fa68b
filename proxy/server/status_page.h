// The status page for people that the proxy's admin port serves at "/": one HTML document with
// its CSS and JavaScript inside (no external downloads). It polls /status every two seconds and
// draws the node pairs with their primary and backup, the proxies, queue depths over the last
// minutes, agents by state, the reporting stream's rate and recent errors by code.
#pragma once

#include <string_view>

namespace ix::proxy {

std::string_view status_page_html();

}  // namespace ix::proxy
