// Starts mongo-java-server (de.bwaldvogel) for the tests: the in-memory backend with its
// oplog enabled (for change streams; "no-oplog" as a third argument leaves it off, which is
// how the tests get a server that behaves like a standalone mongod), bound to HOST:PORT
// (default 127.0.0.1, port 0 = a free one). Prints "READY <host> <port>" on stdout once it accepts connections, and shuts
// down when its standard input reaches end of file (the parent closed it, or died) or on
// SIGTERM/SIGINT, or when its parent process exits. Built and run by tests/mongo_server.py.
//
// Usage: java -cp <classes>:<lib>/* Launcher [HOST [PORT [no-oplog]]]

import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;

public final class Launcher {
    private Launcher() {}

    public static void main(String[] args) throws IOException {
        String host = args.length > 0 ? args[0] : "127.0.0.1";
        int port = args.length > 1 ? Integer.parseInt(args[1]) : 0;

        boolean oplog = !(args.length > 2 && args[2].equals("no-oplog"));

        MongoServer server = new MongoServer(new MemoryBackend());
        if (oplog) {
            server.enableOplog();
        }
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow, "mongo-shutdown"));
        server.bind(host, port);

        InetSocketAddress address = server.getLocalAddress();
        System.out.println("READY " + address.getHostString() + " " + address.getPort());
        System.out.flush();

        // Exit when the parent process is gone, even if something else still holds our stdin.
        ProcessHandle.current().parent().ifPresent(
            parent -> parent.onExit().thenRun(() -> System.exit(0)));

        // Block until the parent closes our stdin (or exits); then shut down through the hook.
        InputStream in = System.in;
        byte[] buffer = new byte[256];
        while (in.read(buffer) >= 0) {
            // ignore anything written to us
        }
        System.exit(0);
    }
}
