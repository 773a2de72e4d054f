// Segment's copy-paste snippet for analytics.js, minified, as Segment's docs give it (snippet 5.2.0:
// segmentio/segment-docs, src/_includes/content/snippet-helper.md, "Minified" tab, the text inside
// <script>), with its two placeholders: the write key and the CDN host a self-hosting or proxying
// site replaces ("Self Hosting or Proxying Analytics.js", custom-proxy.md: replace cdn.segment.com
// in `t.src`). Kept verbatim so a test loads analytics.js the way sites do.
export const SEGMENT_SNIPPET =
  '!function(){var analytics=window.analytics=window.analytics||[];if(!analytics.initialize)if(analytics.invoked)window.console&&console.error&&console.error("Segment snippet included twice.");else{analytics.invoked=!0;analytics.methods=["trackSubmit","trackClick","trackLink","trackForm","pageview","identify","reset","group","track","ready","alias","debug","page","screen","once","off","on","addSourceMiddleware","addIntegrationMiddleware","setAnonymousId","addDestinationMiddleware","register"];analytics.factory=function(e){return function(){if(window.analytics.initialized)return window.analytics[e].apply(window.analytics,arguments);var i=Array.prototype.slice.call(arguments);if(["track","screen","alias","group","page","identify"].indexOf(e)>-1){var c=document.querySelector("link[rel=\'canonical\']");i.push({__t:"bpc",c:c&&c.getAttribute("href")||void 0,p:location.pathname,u:location.href,s:location.search,t:document.title,r:document.referrer})}i.unshift(e);analytics.push(i);return analytics}};for(var i=0;i<analytics.methods.length;i++){var key=analytics.methods[i];analytics[key]=analytics.factory(key)}analytics.load=function(key,i){var t=document.createElement("script");t.type="text/javascript";t.async=!0;t.src="https://cdn.segment.com/analytics.js/v1/" + key + "/analytics.min.js";var n=document.getElementsByTagName("script")[0];n.parentNode.insertBefore(t,n);analytics._loadOptions=i};analytics._writeKey="YOUR_WRITE_KEY";;analytics.SNIPPET_VERSION="5.2.0";\n' +
  'analytics.load("YOUR_WRITE_KEY");\n' +
  'analytics.page();\n' +
  '}}();';

/**
 * The snippet as a site switching to trackhouse writes it: its write key filled in, Segment's CDN
 * origin (`https://cdn.segment.com`) replaced by `origin`, and `calls` (statements using
 * `analytics`) after its load and before its page call.
 */
export function snippetFor(origin: string, writeKey: string, calls = ''): string {
  const parts = SEGMENT_SNIPPET.split('https://cdn.segment.com/analytics.js/v1/');
  if (parts.length !== 2) throw new Error('the snippet names the CDN once');
  return parts
    .join(`${origin}/analytics.js/v1/`)
    .replaceAll('YOUR_WRITE_KEY', writeKey)
    .replace('analytics.page();', `${calls}\nanalytics.page();`);
}
