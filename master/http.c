/*  http: the route table (every dashboard asset, then the two snapshots). */
#include "http.h"
#include "tm_prom.h"
#include "dashboard_assets.h"       //  generated from master/dashboard/ at build time
#include <czmq.h>

#define S_STATUS_PATH "/api/status"
#define S_METRICS_PATH "/metrics"

tm_http_t *
http_new (const char *host, int port)
{
    tm_http_route_t routes [DASHBOARD_ASSETS + 2];
    for (size_t i = 0; i < DASHBOARD_ASSETS; i++)
        routes [i] = (tm_http_route_t) {
            dashboard_assets [i].path, dashboard_assets [i].content_type,
            dashboard_assets [i].data, dashboard_assets [i].size
        };
    routes [DASHBOARD_ASSETS] = (tm_http_route_t) { S_STATUS_PATH, "application/json", NULL, 0 };
    routes [DASHBOARD_ASSETS + 1] = (tm_http_route_t) {
        S_METRICS_PATH, TM_PROM_CONTENT_TYPE, NULL, 0
    };
    tm_http_config_t config = {
        "http", "not found: try /, /api/status or /metrics\n", routes, DASHBOARD_ASSETS + 2
    };
    tm_http_t *http = tm_http_new (host, port, &config);
    if (!http)
        return NULL;
    //  Before the first tick, the status is an empty object, not nothing.
    tm_http_set_body (http, S_STATUS_PATH, "{}", 2);
    zsys_info ("http: dashboard on http://%s/ (also /api/status, /metrics)",
               tm_http_address (http));
    return http;
}

void
http_set_snapshot (tm_http_t *http, const char *status_json, const char *metrics,
                   size_t metrics_size)
{
    tm_http_set_body (http, S_STATUS_PATH, status_json, strlen (status_json));
    tm_http_set_body (http, S_METRICS_PATH, metrics, metrics_size);
}
