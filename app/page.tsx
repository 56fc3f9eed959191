export default function Home() {
  return (
    <main>
      <h1>SlipStream</h1>
      <p className="muted">Multi-machine deployment and testing. The live dashboard is on its way; the API, the CLI and the node agents work now.</p>
      <h2>Run the tutorial</h2>
      <pre>
        {`echo "$SLIPSTREAM_ADMIN_PASSWORD" | bin/slipstream login --username admin --password-stdin
bin/slipstream run examples/tutorials/service-testing/system --wait --reports ./reports`}
      </pre>
      <p>
        API: <code>/api</code> (bearer token). Live updates: socket.io namespaces <code>/ui</code> and <code>/agent</code>.
      </p>
    </main>
  );
}
