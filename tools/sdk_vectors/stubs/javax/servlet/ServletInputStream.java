// Just enough of the servlet API for the SDK's SpiUtils to compile.
package javax.servlet;

public abstract class ServletInputStream extends java.io.InputStream {}
