// Runs the official Java TOP SDK's own signing code over the cases tools/make_sdk_vectors.py
// writes on stdin, and prints the SDK's answers. Compiled against a checkout of the SDK's public
// sources (never committed here) plus the stubs beside this file; never run by the test suite.
//
// Input, one case a line, fields separated by tabs, every text field Base64 of its UTF-8 bytes
// (the raw query and body are Base64 of their bytes as sent):
//   REQ  id  sign_method  secret  key1 value1 key2 value2 ...
//   SPI  id  content-type  raw-query  body  secret  header1 value1 ...
// Output, one line a case: id, the sign, and for SPI the SDK's parameter text (Base64 UTF-8)
// and whether SpiUtils.checkSign accepts the call signed with that sign.
import com.taobao.api.internal.spi.SpiUtils;
import com.taobao.api.internal.util.TaobaoUtils;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.InputStreamReader;
import java.lang.reflect.Method;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import javax.servlet.ServletInputStream;
import javax.servlet.http.HttpServletRequest;

public class JavaSdkVectors {
    static String text(String b64) {
        return new String(Base64.getDecoder().decode(b64), StandardCharsets.UTF_8);
    }

    static String b64(String text) {
        return Base64.getEncoder().encodeToString(text.getBytes(StandardCharsets.UTF_8));
    }

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) continue;
            String[] f = line.split("\t", -1);
            if (f[0].equals("REQ")) {
                Map<String, String> params = new TreeMap<>();
                for (int i = 4; i + 1 < f.length; i += 2) params.put(text(f[i]), text(f[i + 1]));
                String sign = TaobaoUtils.signTopRequest(params, null, text(f[3]), f[2]);
                System.out.println(f[1] + "\t" + sign);
            } else {
                Map<String, String> headers = new LinkedHashMap<>();
                for (int i = 6; i + 1 < f.length; i += 2) headers.put(text(f[i]), text(f[i + 1]));
                FakeRequest request = new FakeRequest(text(f[2]), new String(Base64.getDecoder().decode(f[3]), StandardCharsets.ISO_8859_1),
                        Base64.getDecoder().decode(f[4]), headers);
                System.out.println(f[1] + "\t" + spiSign(request, text(f[5])));
            }
        }
    }

    // What SpiUtils.checkSignInternal computes, through its own public parsers and its private
    // sign(): the parameters, then the sign; then checkSign itself on the call so signed.
    static String spiSign(FakeRequest request, String secret) throws Exception {
        String charset = com.taobao.api.internal.util.WebUtils.getResponseCharset(request.getContentType());
        Map<String, String> params = new java.util.HashMap<>(SpiUtils.getHeaderMap(request, charset));
        Map<String, String> query = SpiUtils.getQueryMap(request, charset);
        params.putAll(query);
        String body = null;
        if (request.getContentType().startsWith("application/x-www-form-urlencoded")) {
            params.putAll(SpiUtils.getFormMap(request, query));
        } else if (request.body.length > 0) {
            body = new String(request.body, charset);
        }
        Method sign = SpiUtils.class.getDeclaredMethod("sign", Map.class, String.class, String.class, String.class);
        sign.setAccessible(true);
        String computed = (String) sign.invoke(null, params, body, secret, charset);
        Method paramText = SpiUtils.class.getDeclaredMethod("getParamStrFromMap", Map.class);
        paramText.setAccessible(true);
        String text = (String) paramText.invoke(null, params);
        String rawQuery = request.rawQuery;
        String signed = rawQuery.replace("sign=SIGN", "sign=" + computed);
        FakeRequest again = new FakeRequest(request.getContentType(), signed, request.body, request.headers);
        boolean accepted = SpiUtils.checkSign(again, secret).isSuccess();
        return computed + "\t" + b64(text) + "\t" + accepted;
    }

    // A servlet container as far as SpiUtils asks: headers by case-insensitive name, the raw
    // query, and parameters parsed like Tomcat (query then form body, pairs split at the first
    // '=', '+' a space, a pair with an empty name ignored), decoded in the request's charset.
    static class FakeRequest implements HttpServletRequest {
        final String contentType;
        final String rawQuery;
        final byte[] body;
        final Map<String, String> headers;

        FakeRequest(String contentType, String rawQuery, byte[] body, Map<String, String> headers) {
            this.contentType = contentType;
            this.rawQuery = rawQuery;
            this.body = body;
            this.headers = headers;
        }

        public String getContentType() { return contentType; }

        public String getQueryString() { return rawQuery; }

        public String getRemoteAddr() { return "127.0.0.1"; }

        public String getHeader(String name) {
            if (name.equalsIgnoreCase("content-type")) return contentType;
            for (Map.Entry<String, String> e : headers.entrySet()) {
                if (e.getKey().equalsIgnoreCase(name)) return e.getValue();
            }
            return null;
        }

        public ServletInputStream getInputStream() {
            ByteArrayInputStream bytes = new ByteArrayInputStream(body);
            return new ServletInputStream() {
                public int read() { return bytes.read(); }
            };
        }

        public Map<String, String[]> getParameterMap() {
            String charset = com.taobao.api.internal.util.WebUtils.getResponseCharset(contentType);
            Map<String, List<String>> found = new LinkedHashMap<>();
            try {
                parse(rawQuery, charset, found);
                if (contentType.startsWith("application/x-www-form-urlencoded")) {
                    parse(new String(body, StandardCharsets.ISO_8859_1), charset, found);
                }
            } catch (java.io.UnsupportedEncodingException e) {
                throw new IllegalStateException(e);
            }
            Map<String, String[]> map = new LinkedHashMap<>();
            for (Map.Entry<String, List<String>> e : found.entrySet()) map.put(e.getKey(), e.getValue().toArray(new String[0]));
            return map;
        }

        public String getParameter(String name) {
            String[] values = getParameterMap().get(name);
            return values == null ? null : values[0];
        }

        static void parse(String text, String charset, Map<String, List<String>> into) throws java.io.UnsupportedEncodingException {
            for (String chunk : text.split("&")) {
                if (chunk.isEmpty()) continue;
                int eq = chunk.indexOf('=');
                String name = eq < 0 ? chunk : chunk.substring(0, eq);
                String value = eq < 0 ? "" : chunk.substring(eq + 1);
                if (name.isEmpty()) continue;
                // The raw text is Latin-1 here: percent-decoding rebuilds the charset's bytes.
                String key = URLDecoder.decode(reencode(name, charset), charset);
                into.computeIfAbsent(key, k -> new ArrayList<>()).add(URLDecoder.decode(reencode(value, charset), charset));
            }
        }

        // Raw (not percent-encoded) bytes of the body arrive as Latin-1 chars: turn them back into
        // the charset's text so that URLDecoder, which works on text, sees what was sent.
        static String reencode(String latin1, String charset) throws java.io.UnsupportedEncodingException {
            return new String(latin1.getBytes(StandardCharsets.ISO_8859_1), charset);
        }
    }
}
