// Just enough of the servlet API for the SDK's SpiUtils: the methods it calls.
package javax.servlet.http;

import java.util.Map;
import javax.servlet.ServletInputStream;

public interface HttpServletRequest {
    String getContentType();
    ServletInputStream getInputStream() throws java.io.IOException;
    String getHeader(String name);
    String getQueryString();
    Map<String, String[]> getParameterMap();
    String getParameter(String name);
    String getRemoteAddr();
}
