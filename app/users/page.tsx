import { UsersView } from "./users-view";

export const metadata = { title: "Users" };

export default function UsersPage() {
  return <UsersView />;
}
